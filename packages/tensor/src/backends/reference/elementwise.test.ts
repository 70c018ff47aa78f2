import { describe, expect, it } from 'vitest';
import { erf, erfc } from './elementwise.js';

describe('reference erf and erfc', () => {
  // Reference values from a 50-digit decimal evaluation of the series.
  const golden: [number, number, number][] = [
    [0, 0, 1],
    [0.1, 0.1124629160182849, 0.8875370839817151],
    [0.5, 0.5204998778130465, 0.4795001221869535],
    [1, 0.8427007929497149, 0.15729920705028513],
    [2, 0.9953222650189527, 0.004677734981047266],
    [2.9, 0.9999589021219005, 4.109787809945884e-5],
    [3, 0.9999779095030014, 2.209049699858544e-5],
    [5, 0.9999999999984626, 1.537459794428035e-12],
    [10, 1, 2.088487583762545e-45],
    [27, 1, 5.237048923789257e-319],
  ];

  it('matches tabulated values (relative error of erfc below 1e-13 into the far tail)', () => {
    for (const [x, e, c] of golden) {
      expect(Math.abs(erf(x) - e)).toBeLessThan(2e-16 + 1e-15 * Math.abs(e));
      expect(Math.abs(erf(-x) + e)).toBeLessThan(2e-16 + 1e-15 * Math.abs(e));
      expect(Math.abs(erfc(x) - c)).toBeLessThanOrEqual(1e-13 * c + 5e-324);
      expect(Math.abs(erfc(-x) - (2 - c))).toBeLessThan(1e-15);
    }
    expect(erf(NaN)).toBeNaN();
    expect(erfc(Infinity)).toBe(0);
    expect(erf(-Infinity)).toBe(-1);
  });
});
