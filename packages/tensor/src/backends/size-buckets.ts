/**
 * Free blocks kept by size and handed out best-fit within a slack: the bookkeeping that the
 * host buffer cache (host-memory.ts) and the CUDA caching allocator (cuda/allocator.ts) share.
 * A request takes a block of its own size or, failing that, the smallest cached one up to
 * `slack` times larger, so steps whose sizes differ a little (packed batches: 3,432 tokens,
 * then 4,080) reuse each other's blocks instead of allocating new ones every step.
 */
export interface SizeBuckets<B> {
  /** A cached block of the smallest size in [size, size * slack] and that size, or undefined. */
  take(size: number, slack: number): { block: B; size: number } | undefined;
  put(size: number, block: B): void;
  /** Removes and returns every cached block. */
  drain(): { block: B; size: number }[];
}

export function createSizeBuckets<B>(): SizeBuckets<B> {
  const buckets = new Map<number, B[]>();
  const sizes: number[] = []; // ascending, one per bucket

  function lowerBound(size: number): number {
    let lo = 0;
    let hi = sizes.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (sizes[mid]! < size) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  return {
    take(size, slack) {
      for (let i = lowerBound(size); i < sizes.length && sizes[i]! <= size * slack; i++) {
        const block = buckets.get(sizes[i]!)!.pop();
        if (block !== undefined) return { block, size: sizes[i]! };
      }
      return undefined;
    },
    put(size, block) {
      let bucket = buckets.get(size);
      if (!bucket) {
        buckets.set(size, (bucket = []));
        sizes.splice(lowerBound(size), 0, size);
      }
      bucket.push(block);
    },
    drain() {
      const all = [...buckets].flatMap(([size, blocks]) => blocks.map((block) => ({ block, size })));
      buckets.clear();
      sizes.length = 0;
      return all;
    },
  };
}
