/**
 * The two Llama configurations of `npm run bench:generate`, their model files and prompts.
 *
 * Weights are random (seeded) and written once per configuration by generate_export.py into
 * .bench/generate/<name>/ (ignored by git): a Hugging Face folder for our engine and PyTorch,
 * and model.onnx from the same weights for onnxruntime. A stamp file records what made them
 * (sizes, seed, opset and a hash of the Python sources), so a change to any re-exports.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runPythonJson } from './peer-python.js';

export interface LlamaSpec {
  hidden: number;
  intermediate: number;
  layers: number;
  heads: number;
  kv_heads: number;
  vocab: number;
  max_positions: number;
  /** lm_head shares the embedding (llama2.c's stories models do; the 110M size counts it once). */
  tied: boolean;
}

export interface BenchModel {
  name: string;
  label: string;
  spec: LlamaSpec;
  seed: number;
}

export const BENCH_MODELS: BenchModel[] = [
  {
    name: 'llama-20m',
    label: '~20M (d=384, 6 layers, 6 heads, ff 1024, vocab 32000)',
    spec: { hidden: 384, intermediate: 1024, layers: 6, heads: 6, kv_heads: 6, vocab: 32000, max_positions: 1024, tied: true },
    seed: 20,
  },
  {
    name: 'llama-110m',
    label: '~110M (d=768, 12 layers, 12 heads, ff 2048, vocab 32000)',
    spec: { hidden: 768, intermediate: 2048, layers: 12, heads: 12, kv_heads: 12, vocab: 32000, max_positions: 1024, tied: true },
    seed: 110,
  },
];

/** torch 1.13 exports up to opset 17; onnxruntime-node 1.30 runs it. */
const OPSET = 17;
const MODEL_FILES = ['config.json', 'model.safetensors', 'model.onnx'];

/** Parameters of a spec (the tied lm_head counted once), as Hugging Face's num_parameters(). */
export function parameterCount(spec: LlamaSpec): number {
  const { hidden: C, intermediate: F, layers, heads, kv_heads: kv, vocab: V } = spec;
  const kvWidth = (C / heads) * kv;
  const layer = 2 * C + C * C * 2 + 2 * C * kvWidth + 3 * C * F;
  return V * C * (spec.tied ? 1 : 2) + layers * layer + C;
}

/** Writes the model files unless the stamp says the present ones are what this code makes. */
export function ensureModelFiles(model: BenchModel, root: string, here: string, python: string): string {
  const folder = path.join(root, '.bench', 'generate', model.name);
  const sources = ['generate_llama.py', 'generate_export.py'].map((f) => readFileSync(path.join(here, f), 'utf8'));
  const stamp = JSON.stringify({ spec: model.spec, seed: model.seed, opset: OPSET, sources: createHash('sha256').update(sources.join('\0')).digest('hex') });
  const stampFile = path.join(folder, 'bench-stamp.json');
  const fresh = existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp && MODEL_FILES.every((f) => existsSync(path.join(folder, f)));
  if (!fresh) {
    console.log(`writing ${model.name} (random weights, seed ${model.seed}) and its ONNX export into ${path.relative(root, folder)} ...`);
    const out = runPythonJson<{ parameters: number }>(python, path.join(here, 'generate_export.py'), { folder, spec: model.spec, seed: model.seed, opset: OPSET });
    if (out.parameters !== parameterCount(model.spec)) {
      throw new Error(`generate_export.py wrote ${out.parameters} parameters for ${model.name}, expected ${parameterCount(model.spec)}`);
    }
    writeFileSync(stampFile, stamp);
  }
  return folder;
}

/** count prompts of `length` token ids in [3, vocab): a fixed LCG, so every run and engine gets the same. */
export function makePrompts(count: number, length: number, vocab: number, seed = 7): number[][] {
  let s = seed >>> 0;
  const next = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s;
  };
  return Array.from({ length: count }, () => Array.from({ length }, () => 3 + (next() % (vocab - 3))));
}
