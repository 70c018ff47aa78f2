import { describe, expect, it } from 'vitest';
import { gradCheck, randomInput } from '@lmflow/test-utils';
import { Generator, checkpoint, defaultGenerator, dropout, getBackend, manualSeed, tidy, type Tensor } from '../../index.js';
import { emptyLike } from '../util.js';
import { FLOAT_DTYPES, describeSimdLevels, expectParity, gradsOf, pair } from './test-support.js';

// Elementwise out / x, or null where x is 0 (the kept-mask with its scale).
function ratios(out: Tensor, x: Tensor): number[] {
  const o = out.toFlatArray();
  const v = x.contiguous().toFlatArray();
  return o.map((y, i) => y / v[i]!);
}

describe('dropout (reference)', () => {
  it('zeroes about p of the elements and scales the rest by exactly 1 / (1 - p)', () => {
    tidy(() => {
      const x = randomInput([100, 100], { dtype: 'f64', seed: 1, uniform: [1, 2] });
      const p = 0.3;
      const r = ratios(dropout(x, p, { generator: new Generator(7) }), x);
      const kept = r.filter((v) => v !== 0);
      expect(kept.every((v) => Math.abs(v - 1 / (1 - p)) < 1e-12)).toBe(true);
      expect(r.every((v) => v === 0 || Math.abs(v - 1 / (1 - p)) < 1e-12)).toBe(true);
      // 10000 Bernoulli draws: the kept fraction is within 5 sigma (0.0046) of 0.7.
      expect(Math.abs(kept.length / r.length - 0.7)).toBeLessThan(0.023);
    });
  });

  it('the same generator state gives the same mask; the default generator advances', () => {
    tidy(() => {
      const x = randomInput([64], { dtype: 'f32', seed: 2, uniform: [1, 2] });
      const a = dropout(x, 0.5, { generator: new Generator(3) }).toFlatArray();
      const b = dropout(x, 0.5, { generator: new Generator(3) }).toFlatArray();
      expect(a).toEqual(b);
      manualSeed(11);
      const c = dropout(x, 0.5).toFlatArray();
      expect(defaultGenerator.getState()).toEqual({ seed: 11, offset: 64 });
      const d = dropout(x, 0.5).toFlatArray();
      expect(c).not.toEqual(d);
    });
  });

  it('evaluation, p = 0 and p = 1', () => {
    tidy(() => {
      const x = randomInput([3, 5], { dtype: 'f32', seed: 4, layout: 'transposed' });
      const expected = x.contiguous().toFlatArray();
      expect(dropout(x, 0.9, { training: false }).toFlatArray()).toEqual(expected);
      expect(dropout(x, 0).toFlatArray()).toEqual(expected);
      expect(dropout(x, 1).toFlatArray().every((v) => v === 0)).toBe(true);
      expect(() => dropout(x, 1.5)).toThrow(/dropout: p must be in \[0, 1\], got 1.5/);
    });
  });

  it('the backward applies the same mask (redrawn, not stored); gradCheck passes', () => {
    tidy(() => {
      const x = randomInput([8, 9], { dtype: 'f64', seed: 5, requiresGrad: true, uniform: [1, 2] });
      const y = dropout(x, 0.4, { generator: new Generator(9) });
      expect(y.gradFn!.saved.length).toBe(0);
      const g = randomInput([8, 9], { dtype: 'f64', seed: 6 });
      const dx = gradsOf(y, g)[0]!.toFlatArray();
      const mask = ratios(y, x);
      g.toFlatArray().forEach((gv, i) => expect(dx[i]).toBeCloseTo(gv * mask[i]!, 12));
    });
    // A fresh generator per call: every evaluation draws the same mask.
    gradCheck((x) => dropout(x, 0.25, { generator: new Generator(13) }), [randomInput([4, 6], { dtype: 'f64', seed: 7, layout: 'strided' })]);
  });

  it('a checkpointed segment redraws the same mask when it is recomputed', () => {
    tidy(() => {
      manualSeed(21);
      const x = randomInput([6, 7], { dtype: 'f64', seed: 8, requiresGrad: true, uniform: [1, 2] });
      const y = checkpoint((t) => dropout(t, 0.5), x);
      const mask = ratios(y, x);
      y.backward({ gradient: randomInput([6, 7], { dtype: 'f64', seed: 9 }) });
      const g = randomInput([6, 7], { dtype: 'f64', seed: 9 }).toFlatArray();
      const dx = x.grad!.toFlatArray();
      g.forEach((gv, i) => expect(dx[i]).toBeCloseTo(gv * mask[i]!, 12));
    });
  });
});

describeSimdLevels('dropout', () => {
  for (const dtype of FLOAT_DTYPES) {
    it(`${dtype}: the cpu draws the same mask as the reference (counter-based), forward and backward`, () => {
      tidy(() => {
        for (const shape of [[1], [3, 17], [5, 129]]) {
          const [xr, xc] = pair(shape, { dtype, seed: shape.length, uniform: [1, 2] });
          const yr = dropout(xr.detach().requiresGrad_(), 0.35, { generator: new Generator(5) });
          const yc = dropout(xc.detach().requiresGrad_(), 0.35, { generator: new Generator(5) });
          // The same zeros (bit-exact random numbers); the scaling rounds in f32 on cpu.
          const zeros = (t: Tensor) => t.toFlatArray().map((v) => v === 0);
          expect(zeros(yc)).toEqual(zeros(yr));
          expectParity(yc, yr, dtype, `dropout ${dtype} [${shape}]`);
          const [gr, gc] = pair(shape, { dtype, seed: 40 });
          const [dxc, dxr] = [gradsOf(yc, gc)[0]!, gradsOf(yr, gr)[0]!];
          expect(zeros(dxc)).toEqual(zeros(yc));
          expectParity(dxc, dxr, dtype, `dropout grad ${dtype} [${shape}]`);
        }
      });
    });
    it(`${dtype}: the cpu's fused kernel equals random + mul + scalar mul bit for bit (strided, parallel, counters crossing 2^32)`, () => {
      tidy(() => {
        const cpu = getBackend('cpu');
        for (const [shape, offset] of [[[3, 17], 7], [[300, 257], 2 ** 32 - 1000], [[2, 3000], 2 ** 40 + 3]] as const) {
          const x = pair([...shape], { dtype, seed: 3, uniform: [-2, 2] })[1]!.transpose(0, 1);
          const fused = emptyLike(x);
          cpu.dropout!(x, fused, 0.3, 1234, offset);
          const mask = emptyLike(x);
          cpu.random(mask, 'bernoulli', 1 - 0.3, 0, 1234, offset);
          const kept = emptyLike(x);
          cpu.binary('mul', x, mask, kept);
          const composed = emptyLike(x);
          cpu.scalar('mul', kept, 1 / (1 - 0.3), composed);
          expect(fused.toFlatArray()).toEqual(composed.toFlatArray());
        }
      });
    });
  }
});
