/**
 * The block size when the user gives none, LMFlow's rule: the tokenizer's model_max_length, at
 * most 1024 (long contexts are opt-in: memory grows with them). A requested size above
 * model_max_length is lowered to it, with a warning, as LMFlow does.
 */
import type { Tokenizer } from '../tokenizer/load-tokenizer.js';

export const DEFAULT_MAX_BLOCK_SIZE = 1024;

export function resolveBlockSize(requested: number | undefined, tokenizer: Tokenizer, onWarning: (message: string) => void = (m) => console.warn(m)): number {
  const modelMax = tokenizer.modelMaxLength;
  if (requested === undefined) return Math.min(modelMax ?? DEFAULT_MAX_BLOCK_SIZE, DEFAULT_MAX_BLOCK_SIZE);
  if (!Number.isInteger(requested) || requested < 1) throw new Error(`--block_size is ${requested}, expected a positive integer`);
  if (modelMax !== null && requested > modelMax) {
    onWarning(`--block_size ${requested} is longer than the tokenizer's model_max_length ${modelMax}; using ${modelMax}`);
    return modelMax;
  }
  return requested;
}
