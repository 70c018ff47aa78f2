import { describe, expect, it } from 'vitest';
import { createSizeBuckets } from './size-buckets.js';

describe('size buckets', () => {
  it('hands out the smallest block within the slack, and nothing beyond it', () => {
    const buckets = createSizeBuckets<string>();
    buckets.put(1500, 'b1500');
    buckets.put(1000, 'b1000');
    buckets.put(1200, 'b1200');
    expect(buckets.take(1000, 1.5)).toEqual({ block: 'b1000', size: 1000 });
    expect(buckets.take(1000, 1.5)).toEqual({ block: 'b1200', size: 1200 });
    expect(buckets.take(1000, 1.25)).toBeUndefined(); // 1500 is more than 1.25x
    expect(buckets.take(1600, 2)).toBeUndefined(); // nothing is large enough
    expect(buckets.take(1000, 1.5)).toEqual({ block: 'b1500', size: 1500 });
    expect(buckets.take(1000, 1.5)).toBeUndefined();
  });

  it('keeps several blocks of a size and drains them all', () => {
    const buckets = createSizeBuckets<number>();
    for (const [size, block] of [[64, 1], [64, 2], [4096, 3]] as const) buckets.put(size, block);
    expect(buckets.drain().sort((a, b) => a.block - b.block)).toEqual([{ block: 1, size: 64 }, { block: 2, size: 64 }, { block: 3, size: 4096 }]);
    expect(buckets.take(64, 1)).toBeUndefined();
  });
});
