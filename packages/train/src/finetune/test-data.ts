/**
 * Shared material of the finetune tests: stories260K (a real pretrained Llama) and the first
 * instances of the alpaca demo file converted to text2text, written to a temp folder.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolveConfig } from '@lmflow/core';
import { convertDataset, writeDataset } from '@lmflow/data';
import { finetuneOptionGroups, type FinetuneConfig } from './finetune.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
export const shared = path.resolve(repoRoot, '../shared');
export const stories260K = path.join(shared, 'models/stories260K');

export function tempDir(prefix: string): string {
  return mkdtempSync(path.join(os.tmpdir(), `lmflow-${prefix}-`));
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

/** A finetune config from flags, as the CLI would resolve it. */
export function configFrom(argv: string[]): FinetuneConfig {
  return resolveConfig(finetuneOptionGroups, { argv });
}
