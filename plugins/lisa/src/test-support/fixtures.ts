/**
 * Material of the LISA tests: stories260K (a real pretrained Llama, read-only in ../shared),
 * a small random GPT-2 with stories260K's tokenizer, alpaca demo samples, and finetune
 * configs resolved from flags as the CLI resolves them.
 */
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { resolveConfig } from '@lmflow/core';
import { fromHostArray, type Tensor } from '@lmflow/tensor';
import { stories260K } from '@lmflow/test-utils';
import { saveSafetensors } from '@lmflow/models';
import { finetuneOptionGroups } from '@lmflow/train';
import { lisaOptions } from '../lisa-options.js';

export { alpacaSubset, stories260K, tempDir } from '@lmflow/test-utils';

export function finetuneConfig(argv: string[]): Record<string, unknown> {
  return resolveConfig([...finetuneOptionGroups, lisaOptions], { argv }) as Record<string, unknown>;
}

/** GPT-2 with n_embd 32, `layers` blocks, vocab 512 (stories260K's tokenizer), random weights. */
export async function writeRandomGpt2(dir: string, layers: number): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const C = 32;
  let seed = 11;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31 - 0.5) * 0.2;
  const tensors = new Map<string, Tensor>();
  const add = (name: string, shape: number[], fill?: number) =>
    tensors.set(name, fromHostArray(Float32Array.from({ length: shape.reduce((a, b) => a * b) }, () => fill ?? rand()), { shape, device: 'cpu' }));
  add('transformer.wte.weight', [512, C]);
  add('transformer.wpe.weight', [128, C]);
  for (let i = 0; i < layers; i++) {
    const p = `transformer.h.${i}`;
    for (const ln of ['ln_1', 'ln_2']) {
      add(`${p}.${ln}.weight`, [C], 1);
      add(`${p}.${ln}.bias`, [C], 0);
    }
    for (const [name, inF, outF] of [['attn.c_attn', C, 3 * C], ['attn.c_proj', C, C], ['mlp.c_fc', C, 4 * C], ['mlp.c_proj', 4 * C, C]] as const) {
      add(`${p}.${name}.weight`, [inF, outF]);
      add(`${p}.${name}.bias`, [outF]);
    }
  }
  add('transformer.ln_f.weight', [C], 1);
  add('transformer.ln_f.bias', [C], 0);
  await saveSafetensors(path.join(dir, 'model.safetensors'), tensors, { metadata: { format: 'pt' } });
  for (const t of tensors.values()) t.dispose();
  writeFileSync(
    path.join(dir, 'config.json'),
    JSON.stringify({ model_type: 'gpt2', vocab_size: 512, n_positions: 128, n_embd: C, n_head: 4, n_layer: layers, layer_norm_epsilon: 1e-5, activation_function: 'gelu_new', bos_token_id: 1, eos_token_id: 2 }),
  );
  for (const file of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(path.join(stories260K, file), path.join(dir, file));
  return dir;
}
