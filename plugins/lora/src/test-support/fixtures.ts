/**
 * Shared material of the LoRA tests: stories260K (a real pretrained Llama), alpaca demo
 * samples converted to text2text, finetune configs as the CLI resolves them, and a greedy
 * decoder to compare models by their text.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolveConfig } from '@lmflow/core';
import { convertDataset, writeDataset } from '@lmflow/data';
import { finetuneOptionGroups, type FinetuneConfig } from '@lmflow/train';
import { argmax, noGrad, tensor, tidy } from '@lmflow/tensor';
import type { CausalLM } from '@lmflow/models';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
export const shared = path.resolve(repoRoot, '../shared');
export const stories260K = path.join(shared, 'models/stories260K');

export function tempDir(prefix: string): string {
  return mkdtempSync(path.join(os.tmpdir(), `lmflow-lora-${prefix}-`));
}

/** The first `count` alpaca demo instances as an LMFlow text2text file; returns its path. */
export async function alpacaSubset(dir: string, count: number): Promise<string> {
  const dataset = await convertDataset(path.join(shared, 'data/alpaca_en_demo.json'), { from: 'alpaca', to: 'text2text' });
  dataset.instances = dataset.instances.slice(0, count);
  dataset.origins = dataset.origins.slice(0, count);
  const file = path.join(dir, 'alpaca.json');
  await writeDataset(dataset, file);
  return file;
}

export function finetuneConfig(argv: string[]): FinetuneConfig {
  return resolveConfig(finetuneOptionGroups, { argv });
}

export const quiet = { log: () => undefined, progressStream: { write: () => true } };

/** Token ids of `count` greedy steps after `prompt` (full forward each step: the model is tiny). */
export function greedy(model: CausalLM, prompt: number[], count: number): number[] {
  const ids = [...prompt];
  for (let i = 0; i < count; i++) {
    const next = noGrad(() =>
      tidy(() => {
        const logits = model.forward(tensor([ids], { dtype: 'i32', device: model.device }));
        return argmax(logits.select(1, ids.length - 1).reshape(-1)).item();
      }),
    );
    ids.push(next);
  }
  return ids.slice(prompt.length);
}

/** Logits (flattened) of one pass over `ids`. */
export function logitsOf(model: CausalLM, ids: number[]): number[] {
  return noGrad(() => tidy(() => model.forward(tensor([ids], { dtype: 'i32', device: model.device })).toFlatArray()));
}
