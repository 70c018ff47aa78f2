/**
 * Grouping (Hugging Face run_clm's and LMFlow's `group_texts`, asked for with
 * `--disable_group_texts false`): every sample's tokens concatenated in dataset order, then cut
 * into blocks of exactly blockSize tokens; the remainder shorter than a block is dropped.
 * Attention and positions run across sample borders, as in continued pretraining on a corpus;
 * label masks travel with their tokens.
 */
import type { TokenizedSample } from '@lmflow/core';

export function groupTexts(samples: readonly TokenizedSample[], blockSize: number): TokenizedSample[] {
  if (!Number.isInteger(blockSize) || blockSize < 1) throw new Error(`groupTexts: blockSize is ${blockSize}, expected a positive integer`);
  const ids: number[] = [];
  const labels: number[] = [];
  for (const s of samples) {
    for (let t = 0; t < s.inputIds.length; t++) {
      ids.push(s.inputIds[t]!);
      labels.push(s.labels[t]!);
    }
  }
  const blocks: TokenizedSample[] = [];
  for (let start = 0; start + blockSize <= ids.length; start += blockSize) {
    blocks.push({ inputIds: ids.slice(start, start + blockSize), labels: labels.slice(start, start + blockSize) });
  }
  return blocks;
}
