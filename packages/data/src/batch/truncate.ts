/**
 * block_size truncation: a sample longer than blockSize keeps its first blockSize tokens, as
 * LMFlow does (truncation_side "right"). Prompts come first, so the end of a long answer is
 * what is lost.
 */
import type { TokenizedSample } from '@lmflow/core';

export function truncateSample(sample: TokenizedSample, blockSize: number): TokenizedSample {
  if (sample.inputIds.length <= blockSize) return sample;
  return {
    ...sample,
    inputIds: sample.inputIds.slice(0, blockSize),
    labels: sample.labels.slice(0, blockSize),
    ...(sample.positions ? { positions: sample.positions.slice(0, blockSize) } : {}),
    ...(sample.segments ? { segments: sample.segments.slice(0, blockSize) } : {}),
  };
}
