/**
 * Material of the QLoRA tests: stories260K (a real pretrained Llama, read-only in ../shared),
 * alpaca demo samples as an LMFlow text2text file, a finetune config resolved as the CLI
 * resolves flags, and a larger random Llama that borrows stories260K's tokenizer.
 */
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { resolveConfig } from '@lmflow/core';
import { fromHostArray, type Tensor } from '@lmflow/tensor';
import { stories260K } from '@lmflow/test-utils';
import { saveSafetensors } from '@lmflow/models';
import { finetuneOptionGroups } from '@lmflow/train';
import { loraOptions } from '@lmflow/plugin-lora';
import { qloraOptions } from '../qlora-options.js';

export { alpacaSubset, repoRoot, shared, stories260K, tempDir } from '@lmflow/test-utils';

export const qloraFinetuneGroups = [...finetuneOptionGroups, loraOptions, qloraOptions] as const;

/** Every flag of `lmflow finetune` with LoRA and QLoRA, resolved from argv as the CLI does. */
export function finetuneConfig(argv: string[]): Record<string, unknown> {
  return resolveConfig(qloraFinetuneGroups, { argv }) as Record<string, unknown>;
}

/** Deterministic normal numbers (mulberry32 + Box-Muller). */
function normalSource(seed: number): () => number {
  let state = seed >>> 0;
  const uniform = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
}

/**
 * A Llama with random weights (std 0.02, norms 1) and stories260K's tokenizer (vocab 512),
 * as a Hugging Face folder: config.json, model.safetensors, tokenizer files.
 */
export async function writeRandomLlama(dir: string, shape: { hidden: number; intermediate: number; layers: number; heads: number }, seed = 1): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const { hidden: C, intermediate: I, layers, heads } = shape;
  const V = 512;
  const normal = normalSource(seed);
  const tensors = new Map<string, Tensor>();
  const add = (name: string, dims: number[], init: 'normal' | 'ones') => {
    const n = dims.reduce((a, b) => a * b, 1);
    const data = init === 'ones' ? new Float32Array(n).fill(1) : Float32Array.from({ length: n }, () => 0.02 * normal());
    tensors.set(name, fromHostArray(data, { shape: dims, device: 'cpu' }));
  };
  add('model.embed_tokens.weight', [V, C], 'normal');
  for (let i = 0; i < layers; i++) {
    const p = `model.layers.${i}`;
    add(`${p}.input_layernorm.weight`, [C], 'ones');
    for (const name of ['q_proj', 'k_proj', 'v_proj', 'o_proj']) add(`${p}.self_attn.${name}.weight`, [C, C], 'normal');
    add(`${p}.post_attention_layernorm.weight`, [C], 'ones');
    add(`${p}.mlp.gate_proj.weight`, [I, C], 'normal');
    add(`${p}.mlp.up_proj.weight`, [I, C], 'normal');
    add(`${p}.mlp.down_proj.weight`, [C, I], 'normal');
  }
  add('model.norm.weight', [C], 'ones');
  add('lm_head.weight', [V, C], 'normal');
  await saveSafetensors(path.join(dir, 'model.safetensors'), tensors, { metadata: { format: 'pt' } });
  for (const t of tensors.values()) t.dispose();
  const config = {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    hidden_size: C,
    intermediate_size: I,
    num_hidden_layers: layers,
    num_attention_heads: heads,
    num_key_value_heads: heads,
    vocab_size: V,
    max_position_embeddings: 512,
    rms_norm_eps: 1e-5,
    tie_word_embeddings: false,
    bos_token_id: 1,
    eos_token_id: 2,
    torch_dtype: 'float32',
  };
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config, null, 2));
  for (const file of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(path.join(stories260K, file), path.join(dir, file));
  return dir;
}
