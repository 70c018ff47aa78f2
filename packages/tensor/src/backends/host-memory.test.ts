import { describe, expect, it } from 'vitest';
import { allocateHost, emptyHostCache, hostMemoryStats, releaseHost, sizeClass } from './host-memory.js';

describe('host buffer cache', () => {
  it('size classes: at least the request, at most 12.5% above it (64-byte steps up to 4 KiB)', () => {
    for (let n = 1; n < 3_000_000; n = Math.ceil(n * 1.37) + 1) {
      const c = sizeClass(n);
      expect(c).toBeGreaterThanOrEqual(n);
      if (n > 4096) expect(c / n).toBeLessThanOrEqual(1.125);
      else expect(c % 64).toBe(0);
      expect(sizeClass(c)).toBe(c);
    }
    expect(sizeClass(2 ** 20)).toBe(2 ** 20);
    expect(sizeClass(2 ** 20 + 1)).toBe(2 ** 20 + 2 ** 17);
  });

  it('a freed buffer serves the next request of its class, with the requested length', () => {
    const a = allocateHost('f32', 437 * 768 + 7);
    const buffer = a.buffer;
    releaseHost(a);
    const cached = hostMemoryStats().cachedBytes;
    const b = allocateHost('f32', 437 * 768);
    expect(b.buffer).toBe(buffer);
    expect(b.length).toBe(437 * 768);
    expect(hostMemoryStats().cachedBytes).toBe(cached - buffer.byteLength);
    releaseHost(b);
  });

  it('a shorter request reuses a cached buffer up to 1.5x its class (varying sequence lengths), not beyond', () => {
    emptyHostCache();
    const long = allocateHost('f32', 505 * 768);
    const buffer = long.buffer;
    releaseHost(long);
    const shorter = allocateHost('f32', 437 * 768);
    expect(shorter.buffer).toBe(buffer);
    expect(shorter.length).toBe(437 * 768);
    releaseHost(shorter);
    const far = allocateHost('f32', 300 * 768);
    expect(far.buffer).not.toBe(buffer);
    releaseHost(far);
    emptyHostCache();
  });
});
