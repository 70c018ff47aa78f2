/**
 * The Llama family decoder (llama, mistral, qwen2, qwen3): RMSNorm before attention and MLP,
 * rotate_half RoPE, grouped-query attention, SwiGLU MLP, optional tied embeddings. The family
 * differences are switches (see llama-config.ts): attention biases, Qwen3's per-head RMSNorm of
 * q and k before RoPE, and sliding windows.
 */
import { add, noGrad, rmsNorm, rope, ropeInvFreq, silu, tidy, type Tensor } from '@lmflow/tensor';
import type { AttentionModule, EmbeddingModule, LinearModule, MlpModule, Module } from '@lmflow/core';
import { createLinear, fusedLinears } from '../modules/linear.js';
import { createEmbedding } from '../modules/embedding.js';
import { createSdpaAttention } from '../modules/attention.js';
import { createGatedMlp } from '../modules/mlp.js';
import type { DecoderCore, ForwardStep } from '../model/causal-lm.js';
import { moduleSource, take, takeOptional, tensorSource, uniqueParameters, type Architecture, type BuildContext } from './architecture.js';
import { LLAMA_FAMILY, llamaFamilySpec, parseLlamaFamilyConfig, type LlamaFamilyConfig, type LlamaFamilySpec } from './llama-config.js';

const CLASS_NAMES: Record<LlamaFamilyConfig['model_type'], string> = {
  llama: 'LlamaForCausalLM',
  mistral: 'MistralForCausalLM',
  qwen2: 'Qwen2ForCausalLM',
  qwen3: 'Qwen3ForCausalLM',
};

export const llamaArchitecture: Architecture<LlamaFamilyConfig> = {
  modelTypes: LLAMA_FAMILY,
  baseModelPrefix: 'model',
  // Older checkpoints saved RoPE's inverse frequencies; they are recomputed from rope_theta.
  derivedBuffers: [/^model\.layers\.\d+\.self_attn\.rotary_emb\.inv_freq$/],
  parseConfig: parseLlamaFamilyConfig,
  className: (config) => CLASS_NAMES[config.model_type],
  expectedWeights(config) {
    const spec = llamaFamilySpec(config, '');
    const { hidden_size: C, intermediate_size: I, vocab_size: V, num_attention_heads: Hq, num_key_value_heads: Hkv, head_dim: D } = config;
    const w = new Map<string, number[]>();
    w.set('model.embed_tokens.weight', [V, C]);
    for (let i = 0; i < config.num_hidden_layers; i++) {
      const p = `model.layers.${i}`;
      w.set(`${p}.input_layernorm.weight`, [C]);
      for (const [name, out, inp, bias] of [
        ['q_proj', Hq * D, C, spec.qkvBias],
        ['k_proj', Hkv * D, C, spec.qkvBias],
        ['v_proj', Hkv * D, C, spec.qkvBias],
        ['o_proj', C, Hq * D, spec.oBias],
      ] as const) {
        w.set(`${p}.self_attn.${name}.weight`, [out, inp]);
        if (bias) w.set(`${p}.self_attn.${name}.bias`, [out]);
      }
      if (spec.qkNorm) {
        w.set(`${p}.self_attn.q_norm.weight`, [D]);
        w.set(`${p}.self_attn.k_norm.weight`, [D]);
      }
      w.set(`${p}.post_attention_layernorm.weight`, [C]);
      for (const [name, out, inp] of [
        ['gate_proj', I, C],
        ['up_proj', I, C],
        ['down_proj', C, I],
      ] as const) {
        w.set(`${p}.mlp.${name}.weight`, [out, inp]);
        if (spec.mlpBias) w.set(`${p}.mlp.${name}.bias`, [out]);
      }
    }
    w.set('model.norm.weight', [C]);
    if (!config.tie_word_embeddings) w.set('lm_head.weight', [V, C]);
    return w;
  },
  build: buildLlama,
};

interface Layer {
  inputNorm: Tensor;
  q: LinearModule;
  k: LinearModule;
  v: LinearModule;
  o: LinearModule;
  qNorm: Tensor | null;
  kNorm: Tensor | null;
  attention: AttentionModule;
  postNorm: Tensor;
  mlp: MlpModule;
  window: number | null;
}

function buildLlama(config: LlamaFamilyConfig, weights: Map<string, Tensor>, context: BuildContext): DecoderCore {
  const spec: LlamaFamilySpec = llamaFamilySpec(config, '');
  const { wrap } = context;
  const linear = (name: string, layer: number) => wrap(createLinear(name, take(weights, `${name}.weight`), takeOptional(weights, `${name}.bias`)), layer);

  const embed: EmbeddingModule = wrap(createEmbedding('model.embed_tokens', take(weights, 'model.embed_tokens.weight')), -1);
  const layers: Layer[] = [];
  for (let i = 0; i < config.num_hidden_layers; i++) {
    const p = `model.layers.${i}`;
    const inputNorm = take(weights, `${p}.input_layernorm.weight`);
    const q = linear(`${p}.self_attn.q_proj`, i);
    const k = linear(`${p}.self_attn.k_proj`, i);
    const v = linear(`${p}.self_attn.v_proj`, i);
    const o = linear(`${p}.self_attn.o_proj`, i);
    const qNorm = spec.qkNorm ? take(weights, `${p}.self_attn.q_norm.weight`) : null;
    const kNorm = spec.qkNorm ? take(weights, `${p}.self_attn.k_norm.weight`) : null;
    const attention = wrap(createSdpaAttention(`${p}.self_attn`), i);
    const postNorm = take(weights, `${p}.post_attention_layernorm.weight`);
    const mlpParts = { gate_proj: linear(`${p}.mlp.gate_proj`, i), up_proj: linear(`${p}.mlp.up_proj`, i), down_proj: linear(`${p}.mlp.down_proj`, i) };
    const mlp = wrap(createGatedMlp(`${p}.mlp`, mlpParts, silu), i);
    layers.push({ inputNorm, q, k, v, o, qNorm, kNorm, attention, postNorm, mlp, window: spec.windows[i] ?? null });
  }
  const finalNorm = take(weights, 'model.norm.weight');
  // A tied head multiplies by the embedding table itself: one tensor, listed once.
  const embedWeight = [...embed.parameters()].find(([name]) => name === 'weight')?.[1];
  const headWeight = config.tie_word_embeddings ? embedWeight : take(weights, 'lm_head.weight');
  if (!headWeight) throw new Error('tie_word_embeddings: the embedding module (after plugins) has no "weight" to tie lm_head to');
  const lmHead = wrap(createLinear('lm_head', headWeight), -1);
  const invFreq = noGrad(() => ropeInvFreq(config.head_dim, config.rope_theta, { device: context.device }));

  const { num_attention_heads: Hq, num_key_value_heads: Hkv, head_dim: D, rms_norm_eps: eps } = config;
  const scale = D ** -0.5;

  // x: (B, T, C)  B batch, T time, C hidden; q: (B, T, Hq, D); k, v: (B, T, Hkv, D)
  function layerForward(x: Tensor, layer: Layer, index: number, step: ForwardStep): Tensor {
    const [B, T] = x.shape as [number, number, number];
    const h = rmsNorm(x, layer.inputNorm, eps);
    const [qh, kh, vh] = fusedLinears(h, [layer.q, layer.k, layer.v]);
    let q = qh!.reshape(B, T, Hq, D);
    let k = kh!.reshape(B, T, Hkv, D);
    const v = vh!.reshape(B, T, Hkv, D);
    if (layer.qNorm && layer.kNorm) {
      q = rmsNorm(q, layer.qNorm, eps);
      k = rmsNorm(k, layer.kNorm, eps);
    }
    q = rope(q, step.positions, invFreq);
    k = rope(k, step.positions, invFreq);
    const kv = step.keysAndValues(index, k, v, layer.window);
    const attn = layer.attention.forward({ q, k: kv.k, v: kv.v, causal: true, scale, qSegments: kv.qSegments, kSegments: kv.kSegments });
    const x1 = add(x, layer.o.forward(attn.reshape(B, T, Hq * D)));
    return add(x1, layer.mlp.forward(rmsNorm(x1, layer.postNorm, eps)));
  }

  const modules = (): Module[] => [embed, ...layers.flatMap((l) => [l.q, l.k, l.v, l.o, l.attention, l.mlp]), lmHead];
  const namedParameters = () =>
    uniqueParameters([
      moduleSource(embed),
      ...layers.flatMap((l, i) => {
        const p = `model.layers.${i}`;
        return [
          tensorSource(`${p}.input_layernorm.weight`, l.inputNorm),
          moduleSource(l.q),
          moduleSource(l.k),
          moduleSource(l.v),
          moduleSource(l.o),
          tensorSource(`${p}.self_attn.q_norm.weight`, l.qNorm),
          tensorSource(`${p}.self_attn.k_norm.weight`, l.kNorm),
          moduleSource(l.attention),
          tensorSource(`${p}.post_attention_layernorm.weight`, l.postNorm),
          moduleSource(l.mlp),
        ];
      }),
      tensorSource('model.norm.weight', finalNorm),
      moduleSource(lmHead),
    ]);

  return {
    kvLayout: { layers: config.num_hidden_layers, kvHeads: Hkv, headDim: D },
    maxPositions: config.max_position_embeddings,
    learnedPositions: false,
    vocabSize: config.vocab_size,
    modules,
    namedParameters,
    stateDict: () => ({ tensors: new Map(namedParameters()), temporary: [] }),
    forward(ids, step) {
      let x = embed.forward(ids);
      layers.forEach((layer, i) => {
        // One layer's temporaries at a time; autograd keeps its own handles on what it saves.
        const next = tidy(() => step.runLayer(i, x, (h, layerStep) => layerForward(h, layer, i, layerStep)));
        x.dispose();
        x = next;
      });
      // Generation wants the last position only: cut before the norm and the (C, V) head.
      return lmHead.forward(rmsNorm(step.headInput(x), finalNorm, eps));
    },
    dispose() {
      for (const [, t] of namedParameters()) t.dispose();
      invFreq.dispose();
    },
  };
}
