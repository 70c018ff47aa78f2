import { describe, expect, it } from 'vitest';
import { expectClose, gradCheck, randomInput, toleranceFor } from '@lmflow/test-utils';
import { logSoftmax, softmax, tensor, tidy, type Tensor } from '../../index.js';
import { FLOAT_DTYPES, describeSimdLevels, expectParity, gradsOf, pair } from './test-support.js';

// Softmax of each row of a host matrix (rows x n) in float64, with an optional causal mask.
function softmaxRows(x: number[], n: number, scale = 1, causalTq = 0): number[] {
  const out = new Array<number>(x.length).fill(0);
  for (let r = 0; r < x.length / n; r++) {
    const valid = causalTq ? Math.max(0, Math.min(n, (r % causalTq) + n - causalTq + 1)) : n;
    const row = x.slice(r * n, r * n + valid).map((v) => v * scale);
    const m = Math.max(...row);
    const e = row.map((v) => Math.exp(v - m));
    const s = e.reduce((a, b) => a + b, 0);
    e.forEach((v, i) => (out[r * n + i] = v / s));
  }
  return out;
}

function logSoftmaxRows(x: number[], n: number): number[] {
  return x.map((v, i) => {
    const row = x.slice(Math.floor(i / n) * n, Math.floor(i / n) * n + n);
    const m = Math.max(...row);
    return v - m - Math.log(row.reduce((a, b) => a + Math.exp(b - m), 0));
  });
}

describe('softmax (reference)', () => {
  it('matches the definition, with scale, and a causal mask aligned to the end when Tq != Tk', () => {
    tidy(() => {
      for (const [tq, tk] of [[4, 7], [7, 4], [5, 5]] as const) {
        const x = randomInput([2, tq, tk], { dtype: 'f64', seed: tq * 10 + tk });
        const flat = x.toFlatArray();
        expectClose(softmax(x), softmaxRows(flat, tk), toleranceFor('f64'), 'plain');
        expectClose(softmax(x, { scale: 0.3 }), softmaxRows(flat, tk, 0.3), toleranceFor('f64'), 'scaled');
        // Query q sees keys k <= q + (Tk - Tq); rows that see nothing (Tk < Tq) are all 0.
        expectClose(softmax(x, { causal: true, scale: 2 }), softmaxRows(flat, tk, 2, tq), toleranceFor('f64'), 'causal');
      }
    });
  });

  it('subtracts the row max: huge logits do not overflow', () => {
    tidy(() => {
      const y = softmax(tensor([[1000, 1001, 1002], [-1e4, 0, -1e4]], { device: 'reference', dtype: 'f32' }));
      expectClose(y, softmaxRows([0, 1, 2, -1e4, 0, -1e4], 3), toleranceFor('f32'));
    });
  });

  it('normalises any axis (moved last and back)', () => {
    tidy(() => {
      const x = randomInput([3, 4, 5], { dtype: 'f64', seed: 3 });
      const y = softmax(x, { axis: 1 });
      expect(y.shape).toEqual([3, 4, 5]);
      const expected = softmax(x.permute(0, 2, 1)).permute(0, 2, 1).contiguous();
      expectClose(y.contiguous(), expected, toleranceFor('f64'));
      // Each column along axis 1 sums to 1.
      const flat = y.contiguous().toFlatArray();
      for (let a = 0; a < 3; a++) {
        for (let c = 0; c < 5; c++) {
          let s = 0;
          for (let b = 0; b < 4; b++) s += flat[a * 20 + b * 5 + c]!;
          expect(s).toBeCloseTo(1, 12);
        }
      }
    });
  });

  it('gradients pass gradCheck: last axis, other axis, causal with scale, non-contiguous input', () => {
    gradCheck((x) => softmax(x), [randomInput([3, 7], { dtype: 'f64', seed: 5 })]);
    gradCheck((x) => softmax(x, { axis: 0 }), [randomInput([4, 3], { dtype: 'f64', seed: 6 })]);
    gradCheck((x) => softmax(x, { causal: true, scale: 0.5 }), [randomInput([2, 3, 5], { dtype: 'f64', seed: 7 })]);
    gradCheck((x) => softmax(x), [randomInput([4, 5], { dtype: 'f64', seed: 8, layout: 'transposed' })]);
  });

  it('errors name the op, the argument and the shape', () => {
    tidy(() => {
      const x = randomInput([3, 4], { dtype: 'f32' });
      expect(() => softmax(x, { axis: 2 })).toThrow(/softmax: axis 2 is out of range/);
      expect(() => softmax(x, { axis: 0, causal: true })).toThrow(/softmax: causal .* needs axis -1.*\[3, 4\]/);
      expect(() => softmax(randomInput([4], { dtype: 'f32' }), { causal: true })).toThrow(/softmax: causal needs x of shape \(\.\.\., Tq, Tk\).*\[4\]/);
      expect(() => softmax(tensor([1, 2], { device: 'reference', dtype: 'i32' }))).toThrow(/softmax: expected a floating tensor.*i32 \[2\]/);
    });
  });
});

describe('logSoftmax (reference)', () => {
  it('is x - logsumexp(x) along the axis, stable for large logits', () => {
    tidy(() => {
      const x = tensor([[1000, 1001, 1002], [0.5, -2, 3]], { device: 'reference', dtype: 'f64' });
      const flat = x.toFlatArray();
      expectClose(logSoftmax(x), logSoftmaxRows(flat, 3), toleranceFor('f64'));
      const x3 = randomInput([2, 3, 4], { dtype: 'f64', seed: 2 });
      expectClose(logSoftmax(x3, { axis: 1 }).contiguous(), softmax(x3, { axis: 1 }).contiguous().toFlatArray().map(Math.log), toleranceFor('f64'));
    });
  });

  it('gradients pass gradCheck', () => {
    gradCheck((x) => logSoftmax(x), [randomInput([3, 6], { dtype: 'f64', seed: 9 })]);
    gradCheck((x) => logSoftmax(x, { axis: 0 }), [randomInput([5, 2], { dtype: 'f64', seed: 10, layout: 'strided' })]);
  });
});

describeSimdLevels('softmax and logSoftmax', () => {
  const shapes = [[1, 1], [3, 17], [5, 129], [2, 3, 40]] as const;
  for (const dtype of FLOAT_DTYPES) {
    it(`${dtype}: forward and gradients match the reference on odd sizes`, () => {
      tidy(() => {
        for (const shape of shapes) {
          const [xr, xc] = pair(shape, { dtype, seed: shape[1] });
          const [gr, gc] = pair(shape, { dtype, seed: 100 + shape[1] });
          for (const [name, fn] of [
            ['softmax', (x: Tensor) => softmax(x, { scale: 0.7 })],
            ['causal softmax', (x: Tensor) => softmax(x, { causal: true })],
            ['logSoftmax', (x: Tensor) => logSoftmax(x)],
          ] as const) {
            const [leafR, leafC] = [xr.detach().requiresGrad_(), xc.detach().requiresGrad_()];
            const yr = fn(leafR);
            const yc = fn(leafC);
            expect(yc.device).toBe('cpu');
            expectParity(yc, yr, dtype, `${name} ${dtype} [${shape}]`);
            expectParity(gradsOf(yc, gc)[0]!, gradsOf(yr, gr)[0]!, dtype, `${name} grad ${dtype} [${shape}]`, 2);
          }
        }
      });
    });
  }

  it('non-contiguous inputs (transposed, strided) are made contiguous by the op and match', () => {
    tidy(() => {
      for (const layout of ['transposed', 'strided'] as const) {
        const [xr, xc] = pair([7, 19], { layout, seed: 12 });
        const [gr, gc] = pair([7, 19], { seed: 13 });
        for (const fn of [(x: Tensor) => softmax(x, { scale: 0.5 }), (x: Tensor) => logSoftmax(x), (x: Tensor) => softmax(x, { axis: 0 })]) {
          const yr = fn(xr.detach().requiresGrad_());
          const yc = fn(xc.detach().requiresGrad_());
          expectParity(yc.contiguous(), yr.contiguous(), 'f32', `${layout} forward`);
          expectParity(gradsOf(yc, gc.reshape(yc.shape))[0]!, gradsOf(yr, gr.reshape(yr.shape))[0]!, 'f32', `${layout} grad`, 2);
        }
      }
    });
  });

  it('rows with strided leading dimensions (dense last dimension) read the right memory', () => {
    tidy(() => {
      const [xr, xc] = pair([6, 33], { layout: 'rows', seed: 4 });
      const outR = tensor(new Float32Array(6 * 33), { device: 'reference', shape: [6, 33] });
      const outC = tensor(new Float32Array(6 * 33), { device: 'cpu', shape: [6, 33] });
      xr.backend.softmax(xr, outR, { scale: 1, causal: false });
      xc.backend.softmax(xc, outC, { scale: 1, causal: false });
      expectParity(outC, outR, 'f32', 'row-strided softmax');
      xr.backend.logSoftmax(xr, outR);
      xc.backend.logSoftmax(xc, outC);
      expectParity(outC, outR, 'f32', 'row-strided logSoftmax');
    });
  });

  it('huge logits: rows whose max is far from 0 stay finite', () => {
    tidy(() => {
      const x = tensor([[1000, 1001, 1002, 999], [-1e4, 0, -1e4, -50]], { device: 'cpu' });
      expectClose(softmax(x), softmaxRows(x.toFlatArray(), 4), toleranceFor('f32'));
      expectClose(logSoftmax(x), logSoftmaxRows(x.toFlatArray(), 4), { atol: 1e-4, rtol: 1e-5 });
    });
  });
});
