/**
 * Packing: whole samples laid one after another into blocks of at most blockSize tokens, in
 * dataset order (a sample that does not fit starts the next block; none is split). Inside a
 * block, positions restart at 0 and segment ids count 1, 2, ... per sample, so attention and
 * positions never cross a sample border.
 *
 * Labels are aligned with inputIds (the Hugging Face convention: the loss predicts labels[t+1]
 * from position t). The first label of each packed sample is therefore set to IGNORE_INDEX:
 * otherwise the last token of one sample would be trained to predict the first token of the next.
 */
import { IGNORE_INDEX, type TokenizedSample } from '@lmflow/core';

export function packSamples(samples: readonly TokenizedSample[], blockSize: number): TokenizedSample[] {
  if (!Number.isInteger(blockSize) || blockSize < 1) throw new Error(`packSamples: blockSize is ${blockSize}, expected a positive integer`);
  const blocks: TokenizedSample[] = [];
  let current: { inputIds: number[]; labels: number[]; positions: number[]; segments: number[] } | null = null;
  let segment = 0;
  samples.forEach((sample, i) => {
    const n = sample.inputIds.length;
    if (n > blockSize) throw new Error(`packSamples: sample ${i} has ${n} tokens, more than blockSize ${blockSize}; truncate samples to block_size before packing`);
    if (n === 0) return;
    if (current === null || current.inputIds.length + n > blockSize) {
      current = { inputIds: [], labels: [], positions: [], segments: [] };
      blocks.push(current);
      segment = 0;
    }
    segment++;
    for (let t = 0; t < n; t++) {
      current.inputIds.push(sample.inputIds[t]!);
      current.labels.push(t === 0 ? IGNORE_INDEX : sample.labels[t]!);
      current.positions.push(t);
      current.segments.push(segment);
    }
  });
  return blocks;
}
