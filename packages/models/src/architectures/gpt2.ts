/**
 * GPT-2: learned position embeddings, LayerNorm with bias before attention and MLP, fused
 * q/k/v projection (c_attn), gelu_new (tanh) MLP, lm_head tied to the token embedding.
 *
 * Hugging Face stores GPT-2's projections as Conv1D weights (in, out). They are held here
 * transposed, in nn.Linear's (out, in) layout, so every linear module of every architecture
 * has one layout (LoRA and other plugins need not know about Conv1D); namedParameters shows
 * that layout, and stateDict transposes back for saving.
 */
import { add, contiguous, gelu, geluTanh, layerNorm, noGrad, relu, silu, tidy, transpose, type Tensor } from '@lmflow/tensor';
import type { AttentionModule, EmbeddingModule, LinearModule, MlpModule, Module } from '@lmflow/core';
import { createLinear } from '../modules/linear.js';
import { createEmbedding } from '../modules/embedding.js';
import { createSdpaAttention } from '../modules/attention.js';
import { createGpt2Mlp, type Activation } from '../modules/mlp.js';
import type { DecoderCore, ForwardStep } from '../model/causal-lm.js';
import { moduleSource, take, tensorSource, uniqueParameters, type Architecture, type BuildContext } from './architecture.js';
import { parseGpt2Config, type Gpt2Activation, type Gpt2Config } from './gpt2-config.js';

const ACTIVATIONS: Record<Gpt2Activation, Activation> = {
  gelu_new: geluTanh,
  gelu_pytorch_tanh: geluTanh,
  gelu_fast: geluTanh,
  gelu,
  relu,
  silu,
  swish: silu,
};

/** Conv1D weights, by name relative to a block. */
const CONV1D = ['attn.c_attn', 'attn.c_proj', 'mlp.c_fc', 'mlp.c_proj'] as const;

const innerSize = (config: Gpt2Config) => config.n_inner ?? 4 * config.n_embd;

export const gpt2Architecture: Architecture<Gpt2Config> = {
  modelTypes: ['gpt2'],
  baseModelPrefix: 'transformer',
  // The causal mask buffers of older transformers versions (attn.bias, attn.masked_bias).
  derivedBuffers: [/^transformer\.h\.\d+\.attn\.(bias|masked_bias)$/],
  parseConfig: parseGpt2Config,
  className: () => 'GPT2LMHeadModel',
  expectedWeights(config) {
    const { n_embd: C, vocab_size: V, n_positions: P } = config;
    const I = innerSize(config);
    const w = new Map<string, number[]>();
    w.set('transformer.wte.weight', [V, C]);
    w.set('transformer.wpe.weight', [P, C]);
    // Conv1D: (in, out) as stored.
    const conv: Record<(typeof CONV1D)[number], [number, number]> = {
      'attn.c_attn': [C, 3 * C],
      'attn.c_proj': [C, C],
      'mlp.c_fc': [C, I],
      'mlp.c_proj': [I, C],
    };
    for (let i = 0; i < config.n_layer; i++) {
      const p = `transformer.h.${i}`;
      for (const norm of ['ln_1', 'ln_2']) {
        w.set(`${p}.${norm}.weight`, [C]);
        w.set(`${p}.${norm}.bias`, [C]);
      }
      for (const name of CONV1D) {
        w.set(`${p}.${name}.weight`, conv[name]);
        w.set(`${p}.${name}.bias`, [conv[name][1]]);
      }
    }
    w.set('transformer.ln_f.weight', [C]);
    w.set('transformer.ln_f.bias', [C]);
    if (!config.tie_word_embeddings) w.set('lm_head.weight', [V, C]);
    return w;
  },
  build: buildGpt2,
};

interface Block {
  ln1: [Tensor, Tensor];
  cAttn: LinearModule;
  attention: AttentionModule;
  cProj: LinearModule;
  ln2: [Tensor, Tensor];
  mlp: MlpModule;
  scale: number;
}

function buildGpt2(config: Gpt2Config, weights: Map<string, Tensor>, context: BuildContext): DecoderCore {
  const { wrap } = context;
  const conv1d = (name: string, layer: number) => {
    const stored = take(weights, `${name}.weight`);
    // (in, out) -> (out, in), once at load.
    const weight = noGrad(() => contiguous(transpose(stored)));
    stored.dispose();
    return wrap(createLinear(name, weight, take(weights, `${name}.bias`)), layer);
  };
  const norm = (name: string): [Tensor, Tensor] => [take(weights, `${name}.weight`), take(weights, `${name}.bias`)];

  const wte: EmbeddingModule = wrap(createEmbedding('transformer.wte', take(weights, 'transformer.wte.weight')), -1);
  const wpe: EmbeddingModule = wrap(createEmbedding('transformer.wpe', take(weights, 'transformer.wpe.weight')), -1);
  const { n_embd: C, n_head: H } = config;
  const D = C / H;
  const blocks: Block[] = [];
  for (let i = 0; i < config.n_layer; i++) {
    const p = `transformer.h.${i}`;
    const ln1 = norm(`${p}.ln_1`);
    const cAttn = conv1d(`${p}.attn.c_attn`, i);
    const attention = wrap(createSdpaAttention(`${p}.attn`), i);
    const cProj = conv1d(`${p}.attn.c_proj`, i);
    const ln2 = norm(`${p}.ln_2`);
    const mlp = wrap(createGpt2Mlp(`${p}.mlp`, { c_fc: conv1d(`${p}.mlp.c_fc`, i), c_proj: conv1d(`${p}.mlp.c_proj`, i) }, ACTIVATIONS[config.activation_function]), i);
    const scale = (config.scale_attn_weights ? D ** -0.5 : 1) / (config.scale_attn_by_inverse_layer_idx ? i + 1 : 1);
    blocks.push({ ln1, cAttn, attention, cProj, ln2, mlp, scale });
  }
  const lnF = norm('transformer.ln_f');
  const embedWeight = [...wte.parameters()].find(([name]) => name === 'weight')?.[1];
  const headWeight = config.tie_word_embeddings ? embedWeight : take(weights, 'lm_head.weight');
  if (!headWeight) throw new Error('tie_word_embeddings: the embedding module (after plugins) has no "weight" to tie lm_head to');
  const lmHead = wrap(createLinear('lm_head', headWeight), -1);
  const eps = config.layer_norm_epsilon;

  // x: (B, T, C)  B batch, T time, C channels; q, k, v: (B, T, H, D)
  function blockForward(x: Tensor, block: Block, index: number, step: ForwardStep): Tensor {
    const [B, T] = x.shape as [number, number, number];
    // (B, T, 3C) -> (B, T, 3, H, D); q, k, v are strided views of it.
    const qkv = block.cAttn.forward(layerNorm(x, block.ln1[0], block.ln1[1], eps)).reshape(B, T, 3, H, D);
    const [q, k, v] = [0, 1, 2].map((j) => qkv.select(2, j)) as [Tensor, Tensor, Tensor];
    const kv = step.keysAndValues(index, k, v, null);
    const attn = block.attention.forward({ q, k: kv.k, v: kv.v, causal: true, scale: block.scale, qSegments: kv.qSegments, kSegments: kv.kSegments });
    const x1 = add(x, block.cProj.forward(attn.reshape(B, T, C)));
    return add(x1, block.mlp.forward(layerNorm(x1, block.ln2[0], block.ln2[1], eps)));
  }

  const modules = (): Module[] => [wte, wpe, ...blocks.flatMap((b) => [b.cAttn, b.attention, b.cProj, b.mlp]), lmHead];
  const namedParameters = () =>
    uniqueParameters([
      moduleSource(wte),
      moduleSource(wpe),
      ...blocks.flatMap((b, i) => {
        const p = `transformer.h.${i}`;
        return [
          tensorSource(`${p}.ln_1.weight`, b.ln1[0]),
          tensorSource(`${p}.ln_1.bias`, b.ln1[1]),
          moduleSource(b.cAttn),
          moduleSource(b.attention),
          moduleSource(b.cProj),
          tensorSource(`${p}.ln_2.weight`, b.ln2[0]),
          tensorSource(`${p}.ln_2.bias`, b.ln2[1]),
          moduleSource(b.mlp),
        ];
      }),
      tensorSource('transformer.ln_f.weight', lnF[0]),
      tensorSource('transformer.ln_f.bias', lnF[1]),
      moduleSource(lmHead),
    ]);
  const isConv1dWeight = (name: string) => /^transformer\.h\.\d+\.(attn\.c_attn|attn\.c_proj|mlp\.c_fc|mlp\.c_proj)\.weight$/.test(name);

  return {
    kvLayout: { layers: config.n_layer, kvHeads: H, headDim: D },
    maxPositions: config.n_positions,
    learnedPositions: true,
    vocabSize: config.vocab_size,
    modules,
    namedParameters,
    stateDict() {
      const tensors = new Map<string, Tensor>();
      const temporary: Tensor[] = [];
      for (const [name, t] of namedParameters()) {
        if (isConv1dWeight(name)) {
          const stored = noGrad(() => contiguous(transpose(t)));
          temporary.push(stored);
          tensors.set(name, stored);
        } else {
          tensors.set(name, t);
        }
      }
      return { tensors, temporary };
    },
    forward(ids, step) {
      // positions: (T) or (B, T) -> (T, C) or (B, T, C), broadcast over the batch.
      let x = add(wte.forward(ids), wpe.forward(step.positions));
      blocks.forEach((block, i) => {
        const next = tidy(() => step.runLayer(i, x, (h, layerStep) => blockForward(h, block, i, layerStep)));
        x.dispose();
        x = next;
      });
      // Generation wants the last position only: cut before the norm and the (C, V) head.
      return lmHead.forward(layerNorm(step.headInput(x), lnF[0], lnF[1], eps));
    },
    dispose() {
      for (const [, t] of namedParameters()) t.dispose();
    },
  };
}
