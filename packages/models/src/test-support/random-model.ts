/**
 * Tiny models with random weights, written as Hugging Face folders (config.json +
 * model.safetensors) for tests. Names and shapes are listed here by hand from the transformers
 * modeling code, independently of the package's own tables.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fromHostArray, type Tensor } from '@lmflow/tensor';
import { saveSafetensors } from '../safetensors/write.js';

/** Deterministic normal numbers (mulberry32 + Box-Muller). */
export function normalSource(seed: number): () => number {
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

export interface WeightSpec {
  shape: number[];
  /** Values are mean + std * normal. */
  mean: number;
  std: number;
}

export interface RandomModel {
  dir: string;
  /** The stored (f32-rounded) values by name, as float64 for reference implementations. */
  weights: Map<string, Float64Array>;
}

/** Writes config.json and model.safetensors (f32) with weights drawn from specs. */
export async function writeRandomModel(dir: string, config: Record<string, unknown>, specs: Map<string, WeightSpec>, seed = 1): Promise<RandomModel> {
  await mkdir(dir, { recursive: true });
  const normal = normalSource(seed);
  const weights = new Map<string, Float64Array>();
  const tensors = new Map<string, Tensor>();
  for (const [name, { shape, mean, std }] of specs) {
    const data = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => mean + std * normal());
    weights.set(name, Float64Array.from(data));
    tensors.set(name, fromHostArray(data, { shape, device: 'cpu' }));
  }
  await saveSafetensors(path.join(dir, 'model.safetensors'), tensors, { metadata: { format: 'pt' } });
  for (const t of tensors.values()) t.dispose();
  await writeFile(path.join(dir, 'config.json'), JSON.stringify(config, null, 2));
  return { dir, weights };
}

const matrix = (rows: number, cols: number, std = 0.3): WeightSpec => ({ shape: [rows, cols], mean: 0, std });
const vector = (n: number, mean = 0, std = 0.1): WeightSpec => ({ shape: [n], mean, std });

export interface TinyLlamaSpec {
  vocab: number;
  hidden: number;
  intermediate: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  tied: boolean;
  qkvBias: boolean;
  oBias: boolean;
  mlpBias: boolean;
  qkNorm: boolean;
}

/** Llama-family weights as transformers names them (LlamaForCausalLM and relatives). */
export function llamaWeightSpecs(s: TinyLlamaSpec): Map<string, WeightSpec> {
  const m = new Map<string, WeightSpec>();
  m.set('model.embed_tokens.weight', matrix(s.vocab, s.hidden, 1));
  for (let i = 0; i < s.layers; i++) {
    const p = `model.layers.${i}`;
    m.set(`${p}.input_layernorm.weight`, vector(s.hidden, 1));
    m.set(`${p}.self_attn.q_proj.weight`, matrix(s.heads * s.headDim, s.hidden));
    m.set(`${p}.self_attn.k_proj.weight`, matrix(s.kvHeads * s.headDim, s.hidden));
    m.set(`${p}.self_attn.v_proj.weight`, matrix(s.kvHeads * s.headDim, s.hidden));
    m.set(`${p}.self_attn.o_proj.weight`, matrix(s.hidden, s.heads * s.headDim));
    if (s.qkvBias) {
      m.set(`${p}.self_attn.q_proj.bias`, vector(s.heads * s.headDim));
      m.set(`${p}.self_attn.k_proj.bias`, vector(s.kvHeads * s.headDim));
      m.set(`${p}.self_attn.v_proj.bias`, vector(s.kvHeads * s.headDim));
    }
    if (s.oBias) m.set(`${p}.self_attn.o_proj.bias`, vector(s.hidden));
    if (s.qkNorm) {
      m.set(`${p}.self_attn.q_norm.weight`, vector(s.headDim, 1));
      m.set(`${p}.self_attn.k_norm.weight`, vector(s.headDim, 1));
    }
    m.set(`${p}.post_attention_layernorm.weight`, vector(s.hidden, 1));
    m.set(`${p}.mlp.gate_proj.weight`, matrix(s.intermediate, s.hidden));
    m.set(`${p}.mlp.up_proj.weight`, matrix(s.intermediate, s.hidden));
    m.set(`${p}.mlp.down_proj.weight`, matrix(s.hidden, s.intermediate));
    if (s.mlpBias) for (const [n, size] of [['gate_proj', s.intermediate], ['up_proj', s.intermediate], ['down_proj', s.hidden]] as const) m.set(`${p}.mlp.${n}.bias`, vector(size));
  }
  m.set('model.norm.weight', vector(s.hidden, 1));
  if (!s.tied) m.set('lm_head.weight', matrix(s.vocab, s.hidden));
  return m;
}

export interface TinyGpt2Spec {
  vocab: number;
  positions: number;
  hidden: number;
  inner: number;
  layers: number;
  tied: boolean;
}

/** GPT2LMHeadModel weights: Conv1D weights stored (in, out). */
export function gpt2WeightSpecs(s: TinyGpt2Spec): Map<string, WeightSpec> {
  const m = new Map<string, WeightSpec>();
  m.set('transformer.wte.weight', matrix(s.vocab, s.hidden, 1));
  m.set('transformer.wpe.weight', matrix(s.positions, s.hidden, 0.5));
  for (let i = 0; i < s.layers; i++) {
    const p = `transformer.h.${i}`;
    m.set(`${p}.ln_1.weight`, vector(s.hidden, 1));
    m.set(`${p}.ln_1.bias`, vector(s.hidden));
    m.set(`${p}.attn.c_attn.weight`, matrix(s.hidden, 3 * s.hidden));
    m.set(`${p}.attn.c_attn.bias`, vector(3 * s.hidden));
    m.set(`${p}.attn.c_proj.weight`, matrix(s.hidden, s.hidden));
    m.set(`${p}.attn.c_proj.bias`, vector(s.hidden));
    m.set(`${p}.ln_2.weight`, vector(s.hidden, 1));
    m.set(`${p}.ln_2.bias`, vector(s.hidden));
    m.set(`${p}.mlp.c_fc.weight`, matrix(s.hidden, s.inner));
    m.set(`${p}.mlp.c_fc.bias`, vector(s.inner));
    m.set(`${p}.mlp.c_proj.weight`, matrix(s.inner, s.hidden));
    m.set(`${p}.mlp.c_proj.bias`, vector(s.hidden));
  }
  m.set('transformer.ln_f.weight', vector(s.hidden, 1));
  m.set('transformer.ln_f.bias', vector(s.hidden));
  if (!s.tied) m.set('lm_head.weight', matrix(s.vocab, s.hidden));
  return m;
}
