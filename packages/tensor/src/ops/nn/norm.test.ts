import { describe, expect, it } from 'vitest';
import { expectClose, gradCheck, randomInput, toleranceFor } from '@lmflow/test-utils';
import { bf16ToF32, f32ToBf16, layerNorm, rmsNorm, tensor, tidy, type Tensor } from '../../index.js';
import { FLOAT_DTYPES, describeSimdLevels, expectParity, gradsOf, pair } from './test-support.js';

// RMSNorm of host rows in float64, rounding the normalised value with `round` (Llama's order).
function rmsRows(x: number[], w: number[] | null, n: number, eps: number, round = (v: number) => v): number[] {
  return x.map((v, i) => {
    const r = Math.floor(i / n);
    const row = x.slice(r * n, r * n + n);
    const rstd = 1 / Math.sqrt(row.reduce((a, b) => a + b * b, 0) / n + eps);
    return round(v * rstd) * (w ? w[i % n]! : 1);
  });
}

function layerRows(x: number[], w: number[] | null, b: number[] | null, n: number, eps: number): number[] {
  return x.map((v, i) => {
    const r = Math.floor(i / n);
    const row = x.slice(r * n, r * n + n);
    const mean = row.reduce((a, c) => a + c, 0) / n;
    const variance = row.reduce((a, c) => a + (c - mean) ** 2, 0) / n;
    return ((v - mean) / Math.sqrt(variance + eps)) * (w ? w[i % n]! : 1) + (b ? b[i % n]! : 0);
  });
}

describe('rmsNorm and layerNorm (reference)', () => {
  it('rmsNorm matches the definition over the last dimension, any leading dims', () => {
    tidy(() => {
      const x = randomInput([2, 3, 7], { dtype: 'f64', seed: 1 });
      const w = randomInput([7], { dtype: 'f64', seed: 2 });
      expectClose(rmsNorm(x, w, 1e-5), rmsRows(x.toFlatArray(), w.toFlatArray(), 7, 1e-5), toleranceFor('f64'));
      expectClose(rmsNorm(x, null), rmsRows(x.toFlatArray(), null, 7, 1e-6), toleranceFor('f64'));
    });
  });

  it('rmsNorm in bf16 rounds the normalised value before the weight, as Llama does', () => {
    tidy(() => {
      const x = randomInput([3, 9], { dtype: 'bf16', seed: 3 });
      const w = randomInput([9], { dtype: 'bf16', seed: 4, uniform: [0.5, 3] });
      const roundBf16 = (v: number) => bf16ToF32(f32ToBf16(v));
      const expected = rmsRows(x.toFlatArray(), w.toFlatArray(), 9, 1e-6, roundBf16).map(roundBf16);
      // Exact up to the final rounding: the same two roundings in the same order.
      expectClose(rmsNorm(x, w), expected, { atol: 0, rtol: 2 ** -8 });
    });
  });

  it('layerNorm matches torch.nn.LayerNorm (biased variance), with and without affine', () => {
    tidy(() => {
      const x = randomInput([4, 11], { dtype: 'f64', seed: 5 });
      const w = randomInput([11], { dtype: 'f64', seed: 6 });
      const b = randomInput([11], { dtype: 'f64', seed: 7 });
      const flat = x.toFlatArray();
      expectClose(layerNorm(x, w, b), layerRows(flat, w.toFlatArray(), b.toFlatArray(), 11, 1e-5), toleranceFor('f64'));
      expectClose(layerNorm(x, null, null, 1e-3), layerRows(flat, null, null, 11, 1e-3), toleranceFor('f64'));
      expectClose(layerNorm(x, null, b), layerRows(flat, null, b.toFlatArray(), 11, 1e-5), toleranceFor('f64'));
    });
  });

  it('gradients pass gradCheck for x, weight and bias (and with null parameters)', () => {
    const x = () => randomInput([3, 2, 6], { dtype: 'f64', seed: 8 });
    const p = (seed: number) => randomInput([6], { dtype: 'f64', seed });
    gradCheck((a, w) => rmsNorm(a, w, 1e-5), [x(), p(9)]);
    gradCheck((a) => rmsNorm(a, null), [randomInput([4, 5], { dtype: 'f64', seed: 10, layout: 'transposed' })]);
    gradCheck((a, w, b) => layerNorm(a, w, b), [x(), p(11), p(12)]);
    gradCheck((a, b) => layerNorm(a, null, b), [x(), p(13)]);
    gradCheck((a) => layerNorm(a, null, null), [randomInput([4, 6], { dtype: 'f64', seed: 14, layout: 'strided' })]);
  });

  it('a frozen weight gets no gradient while x does', () => {
    tidy(() => {
      const x = randomInput([2, 5], { dtype: 'f64', seed: 15, requiresGrad: true });
      const w = randomInput([5], { dtype: 'f64', seed: 16 });
      const y = rmsNorm(x, w);
      const [dx, dw] = gradsOf(y, randomInput([2, 5], { dtype: 'f64', seed: 17 }));
      expect(dx!.shape).toEqual([2, 5]);
      expect(dw).toBeNull();
    });
  });

  it('errors name the op, the argument and both shapes', () => {
    tidy(() => {
      const x = randomInput([2, 5], { dtype: 'f32' });
      expect(() => rmsNorm(x, randomInput([4], { dtype: 'f32' }))).toThrow(/rmsNorm: weight must have shape \[5\].*\[2, 5\].*\[4\]/);
      expect(() => layerNorm(x, null, randomInput([2, 5], { dtype: 'f32' }))).toThrow(/layerNorm: bias must have shape \[5\].*\[2, 5\]/);
      expect(() => rmsNorm(x, null, -1)).toThrow(/rmsNorm: eps must be a finite number >= 0, got -1/);
      expect(() => rmsNorm(tensor([1, 2], { device: 'reference', dtype: 'i32' }), null)).toThrow(/rmsNorm: expected a floating tensor/);
    });
  });
});

describeSimdLevels('rmsNorm and layerNorm', () => {
  const shapes = [[1, 1], [3, 17], [5, 129], [2, 3, 40]] as const;
  for (const dtype of FLOAT_DTYPES) {
    it(`${dtype}: forward, dx, dweight and dbias match the reference on odd sizes`, () => {
      tidy(() => {
        for (const shape of shapes) {
          const D = shape[shape.length - 1]!;
          const [xr, xc] = pair(shape, { dtype, seed: D });
          const [wr, wc] = pair([D], { dtype, seed: 200 + D, uniform: [0.5, 1.5] });
          const [br, bc] = pair([D], { dtype, seed: 300 + D });
          const [gr, gc] = pair(shape, { dtype, seed: 400 + D });
          const cases: [string, (x: Tensor, w: Tensor, b: Tensor) => Tensor][] = [
            ['rmsNorm', (x, w) => rmsNorm(x, w, 1e-5)],
            ['rmsNorm without weight', (x) => rmsNorm(x, null)],
            ['layerNorm', (x, w, b) => layerNorm(x, w, b)],
            ['layerNorm without affine', (x) => layerNorm(x, null, null)],
          ];
          for (const [name, fn] of cases) {
            const leaves = (ts: Tensor[]) => ts.map((t) => t.detach().requiresGrad_());
            const yr = fn(...(leaves([xr, wr, br]) as [Tensor, Tensor, Tensor]));
            const yc = fn(...(leaves([xc, wc, bc]) as [Tensor, Tensor, Tensor]));
            const label = `${name} ${dtype} [${shape}]`;
            expectParity(yc, yr, dtype, label);
            const dr = gradsOf(yr, gr);
            const dc = gradsOf(yc, gc);
            expect(dc.length).toBe(dr.length);
            // dweight and dbias sum over rows: allow for the longer accumulation.
            dc.forEach((g, i) => expectParity(g!, dr[i]!, dtype, `${label} grad ${i}`, i === 0 ? 2 : 4));
          }
        }
      });
    });
  }

  it('non-contiguous inputs (transposed, strided) are made contiguous by the op and match', () => {
    tidy(() => {
      for (const layout of ['transposed', 'strided'] as const) {
        const [xr, xc] = pair([9, 21], { layout, seed: 14 });
        const [wr, wc] = pair([21], { seed: 15 });
        const [gr, gc] = pair([9, 21], { seed: 16 });
        for (const fn of [(x: Tensor, w: Tensor) => rmsNorm(x, w), (x: Tensor, w: Tensor) => layerNorm(x, w, w)]) {
          const yr = fn(xr.detach().requiresGrad_(), wr.detach().requiresGrad_());
          const yc = fn(xc.detach().requiresGrad_(), wc.detach().requiresGrad_());
          expectParity(yc, yr, 'f32', `${layout} forward`);
          const dr = gradsOf(yr, gr);
          gradsOf(yc, gc).forEach((g, i) => expectParity(g!, dr[i]!, 'f32', `${layout} grad ${i}`, 4));
        }
      }
    });
  });

  it('f32 weight with bf16 activations: dweight comes back in the weight dtype', () => {
    tidy(() => {
      const [xr, xc] = pair([6, 24], { dtype: 'bf16', seed: 21 });
      const [wr, wc] = pair([24], { dtype: 'f32', seed: 22 });
      const [gr, gc] = pair([6, 24], { dtype: 'bf16', seed: 23 });
      const yr = rmsNorm(xr.detach().requiresGrad_(), wr.detach().requiresGrad_());
      const yc = rmsNorm(xc.detach().requiresGrad_(), wc.detach().requiresGrad_());
      expect(yc.dtype).toBe('bf16');
      expectParity(yc, yr, 'bf16', 'mixed forward');
      const [, dwc] = gradsOf(yc, gc);
      const [, dwr] = gradsOf(yr, gr);
      expect(dwc!.dtype).toBe('f32');
      expectParity(dwc!, dwr!, 'f32', 'mixed dweight', 4);
    });
  });

  it('many rows: the threaded dweight reduction matches the reference', () => {
    tidy(() => {
      const [xr, xc] = pair([300, 257], { seed: 31 });
      const [wr, wc] = pair([257], { seed: 32 });
      const [gr, gc] = pair([300, 257], { seed: 33 });
      const yr = layerNorm(xr.detach().requiresGrad_(), wr.detach().requiresGrad_(), null);
      const yc = layerNorm(xc.detach().requiresGrad_(), wc.detach().requiresGrad_(), null);
      expectParity(yc, yr, 'f32', 'layerNorm forward');
      expectParity(gradsOf(yc, gc)[1]!, gradsOf(yr, gr)[1]!, 'f32', 'layerNorm dweight', 4);
    });
  });
});
