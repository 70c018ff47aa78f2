import { describe, expect, it } from 'vitest';
/** The caching allocator's bookkeeping against a fake device that counts its calls. */
import { createCachingAllocator, roundSize } from './allocator.js';

function fakeDevice(capacity = Number.POSITIVE_INFINITY) {
  let next = 0x1000;
  const live = new Map<number, number>();
  let used = 0;
  const calls = { malloc: 0, free: 0 };
  return {
    calls,
    live,
    device: {
      malloc(bytes: number) {
        calls.malloc++;
        if (used + bytes > capacity) return null;
        const ptr = next;
        next += bytes;
        live.set(ptr, bytes);
        used += bytes;
        return ptr;
      },
      free(ptr: number) {
        calls.free++;
        used -= live.get(ptr)!;
        live.delete(ptr);
      },
    },
  };
}

describe('caching allocator', () => {
  it('rounds sizes into shared buckets', () => {
    expect(roundSize(1)).toBe(512);
    expect(roundSize(513)).toBe(1024);
    expect(roundSize(1024 * 1024)).toBe(2 * 1024 * 1024);
    expect(roundSize(65 * 1024 * 1024)).toBe(80 * 1024 * 1024);
    expect(roundSize(0)).toBe(512);
  });

  it('reuses freed blocks of the same rounded size: a steady loop stops calling cudaMalloc', () => {
    const fake = fakeDevice();
    const alloc = createCachingAllocator(fake.device, 'cuda:0');
    for (let step = 0; step < 5; step++) {
      const blocks = [alloc.allocate(1000), alloc.allocate(3 * 1024 * 1024), alloc.allocate(1000)];
      for (const b of blocks) alloc.release(b.ptr, b.size);
    }
    expect(fake.calls.malloc).toBe(3);
    expect(fake.calls.free).toBe(0);
    expect(alloc.stats()).toEqual({ allocatedBytes: 0, cachedBytes: 1024 * 2 + 4 * 1024 * 1024, peakAllocatedBytes: 1024 * 2 + 4 * 1024 * 1024, deviceMallocs: 3 });
    alloc.emptyCache();
    expect(fake.calls.free).toBe(3);
    expect(fake.live.size).toBe(0);
    expect(alloc.stats().cachedBytes).toBe(0);
  });

  it('reuses a cached block up to 1.25x larger: packed steps of other token counts allocate nothing new', () => {
    const fake = fakeDevice();
    const alloc = createCachingAllocator(fake.device, 'cuda:0');
    const MiB = 1024 * 1024;
    // Activations of 4,080 then 3,432 then 3,968 tokens x 2048 bf16 (16, 14 and 16 MiB rounded).
    for (const tokens of [4080, 3432, 3968]) {
      const block = alloc.allocate(tokens * 4096);
      alloc.release(block.ptr, block.size);
    }
    expect(fake.calls.malloc).toBe(1);
    const small = alloc.allocate(12 * MiB); // 16 MiB is 1.33x: a new block
    expect(small.size).toBe(12 * MiB);
    expect(fake.calls.malloc).toBe(2);
    alloc.release(small.ptr, small.size);
    expect(alloc.stats()).toMatchObject({ allocatedBytes: 0, cachedBytes: 28 * MiB, deviceMallocs: 2 });
  });

  it('when the device is full, returns the cache to it and retries before failing', () => {
    const fake = fakeDevice(8 * 1024 * 1024);
    const alloc = createCachingAllocator(fake.device, 'cuda:0');
    const a = alloc.allocate(6 * 1024 * 1024);
    alloc.release(a.ptr, a.size); // 6 MiB cached
    const b = alloc.allocate(4 * 1024 * 1024); // does not fit beside the cache: cache emptied, retried
    expect(b.size).toBe(4 * 1024 * 1024);
    expect(fake.calls.free).toBe(1);
    expect(() => alloc.allocate(6 * 1024 * 1024)).toThrow(/cuda:0: out of memory allocating 6\.0 MiB \(4\.0 MiB in use by tensors, cache emptied\)/);
  });

  it('tracks the peak and honours a cache limit', () => {
    const fake = fakeDevice();
    const alloc = createCachingAllocator(fake.device, 'cuda:1', 1024);
    const x = alloc.allocate(600);
    const y = alloc.allocate(600);
    expect(alloc.stats().peakAllocatedBytes).toBe(2048);
    alloc.release(x.ptr, x.size); // 1024 cached: at the limit
    alloc.release(y.ptr, y.size); // beyond it: back to the device
    expect(alloc.stats().cachedBytes).toBe(1024);
    expect(fake.calls.free).toBe(1);
    alloc.resetPeak();
    expect(alloc.stats().peakAllocatedBytes).toBe(0);
  });
});
