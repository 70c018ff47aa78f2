/**
 * The project's shared test material (../shared beside the repository, read-only): where it
 * is, the stories260K model, temporary folders, and a slice of the alpaca demo data as an
 * LMFlow text2text file, for the tests of every package that finetunes.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { convertDataset, writeDataset } from '@lmflow/data';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const shared = path.resolve(repoRoot, '../shared');
export const stories260K = path.join(shared, 'models/stories260K');

/** A fresh folder under the OS temp dir, named lmflow-<prefix>-XXXXXX. */
export function tempDir(prefix: string): string {
  return mkdtempSync(path.join(os.tmpdir(), `lmflow-${prefix}-`));
}

/** The first `count` alpaca demo instances as an LMFlow text2text file in `dir`; returns its path. */
export async function alpacaSubset(dir: string, count: number): Promise<string> {
  const dataset = await convertDataset(path.join(shared, 'data/alpaca_en_demo.json'), { from: 'alpaca', to: 'text2text' });
  dataset.instances = dataset.instances.slice(0, count);
  dataset.origins = dataset.origins.slice(0, count);
  const file = path.join(dir, 'alpaca.json');
  await writeDataset(dataset, file);
  return file;
}
