import { describe, expect, it } from 'vitest';
import { NF4_CODEBOOK, NF4_MAX_HALF_GAP, NF4_MIDPOINTS, NF4_ZERO_CODE, nf4Code } from './nf4-codebook.js';
import { dequantizeAbsmax, nf4PartLengths, quantizeAbsmax } from './nf4-format.js';

describe('NF4 codebook', () => {
  it('has 16 sorted float32 values from -1 to 1 with an exact zero', () => {
    expect(NF4_CODEBOOK).toHaveLength(16);
    for (let i = 1; i < 16; i++) expect(NF4_CODEBOOK[i]!).toBeGreaterThan(NF4_CODEBOOK[i - 1]!);
    for (const c of NF4_CODEBOOK) expect(Math.fround(c)).toBe(c);
    expect(NF4_CODEBOOK[0]).toBe(-1);
    expect(NF4_CODEBOOK[15]).toBe(1);
    expect(NF4_CODEBOOK[NF4_ZERO_CODE]).toBe(0);
    // Spot values of the QLoRA table (appendix E), as float32.
    expect(NF4_CODEBOOK[1]).toBe(Math.fround(-0.6961928009986877));
    expect(NF4_CODEBOOK[8]).toBe(Math.fround(0.07958029955625534));
    expect(NF4_CODEBOOK[14]).toBe(Math.fround(0.7229568362236023));
  });

  it('maps every value to the nearest code, ties to the lower one', () => {
    NF4_CODEBOOK.forEach((c, i) => expect(nf4Code(c)).toBe(i));
    NF4_MIDPOINTS.forEach((mid, i) => {
      expect(nf4Code(mid)).toBe(i);
      expect(nf4Code(mid + 1e-12)).toBe(i + 1);
      expect(nf4Code(mid - 1e-12)).toBe(i);
    });
    // Brute-force nearest on a grid of [-1, 1].
    let notNearest = 0;
    for (let k = -1000; k <= 1000; k++) {
      const n = k / 1000;
      const distance = Math.abs(n - NF4_CODEBOOK[nf4Code(n)]!);
      if (NF4_CODEBOOK.some((c) => Math.abs(n - c) < distance)) notNearest++;
    }
    expect(notNearest).toBe(0);
  });

  it('knows its widest half gap (between -1 and the next value)', () => {
    expect(NF4_MAX_HALF_GAP).toBeCloseTo((1 - 0.6961928009986877) / 2, 12);
  });
});

describe('NF4 double quantization of absmax', () => {
  it('codes values symmetrically around their mean', () => {
    const q = quantizeAbsmax([1, 2, 3]);
    expect(q.offset).toBe(2);
    expect([...q.scales]).toEqual([1]);
    expect([...q.codes]).toEqual([0, 127, 254]);
    expect([0, 1, 2].map((j) => dequantizeAbsmax(q.offset, q.codes, q.scales, j))).toEqual([1, 2, 3]);
  });

  it('keeps each absmax within half a step of its group scale, group by group', () => {
    // 600 values: groups of 256, 256 and 88 with very different spreads.
    const absmax = Array.from({ length: 600 }, (_, j) => (j < 256 ? 1 + Math.sin(j) : j < 512 ? 0.01 * (1 + Math.cos(j)) : 5 + (j % 7)));
    const q = quantizeAbsmax(absmax);
    expect(q.scales).toHaveLength(3);
    absmax.forEach((a, j) => {
      const scale = q.scales[Math.floor(j / 256)]!;
      expect(Math.abs(dequantizeAbsmax(q.offset, q.codes, q.scales, j) - a)).toBeLessThanOrEqual((scale / 127) * 0.5 * (1 + 1e-6));
    });
  });

  it('stores code 127 for a group equal to the offset', () => {
    const q = quantizeAbsmax([0.5, 0.5, 0.5]);
    expect([...q.codes]).toEqual([127, 127, 127]);
    expect(dequantizeAbsmax(q.offset, q.codes, q.scales, 1)).toBe(0.5);
  });

  it('sizes the parts of a 1024 x 1024 weight', () => {
    expect(nf4PartLengths(1024 * 1024)).toEqual({ codes: 524288, absmaxCodes: 16384, absmaxScales: 64 });
    expect(nf4PartLengths(64 * 300)).toEqual({ codes: 9600, absmaxCodes: 300, absmaxScales: 2 });
  });
});
