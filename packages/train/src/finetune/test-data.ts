/**
 * Shared material of the finetune tests: stories260K (a real pretrained Llama) and the first
 * instances of the alpaca demo file converted to text2text, written to a temp folder.
 */
import { resolveConfig } from '@lmflow/core';
import { finetuneOptionGroups, type FinetuneConfig } from './finetune.js';

export { alpacaSubset, shared, stories260K, tempDir } from '@lmflow/test-utils';

/** A finetune config from flags, as the CLI would resolve it. */
export function configFrom(argv: string[]): FinetuneConfig {
  return resolveConfig(finetuneOptionGroups, { argv });
}
