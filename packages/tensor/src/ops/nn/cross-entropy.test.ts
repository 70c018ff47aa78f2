import { describe, expect, it } from 'vitest';
import { expectClose, gradCheck, randomInput, toleranceFor } from '@lmflow/test-utils';
import { crossEntropy, rmsNorm, tensor, tidy, type Tensor } from '../../index.js';
import { FLOAT_DTYPES, describeSimdLevels, expectParity, gradsOf, pair } from './test-support.js';

function targetsOn(device: string, values: number[], shape: number[], dtype: 'i32' | 'i64' = 'i32'): Tensor {
  return dtype === 'i64'
    ? tensor(BigInt64Array.from(values.map(BigInt)), { device, dtype, shape })
    : tensor(Int32Array.from(values), { device, dtype, shape });
}

// Per-row losses in float64: (1 - e) * (-log p[t]) + e * mean_j(-log p[j]); 0 where ignored.
function lossRows(x: number[], targets: number[], V: number, smoothing = 0, ignore = -100): number[] {
  return targets.map((t, r) => {
    if (t === ignore) return 0;
    const row = x.slice(r * V, r * V + V);
    const m = Math.max(...row);
    const lse = m + Math.log(row.reduce((a, v) => a + Math.exp(v - m), 0));
    const smooth = row.reduce((a, v) => a + (lse - v), 0) / V;
    return (1 - smoothing) * (lse - row[t]!) + smoothing * smooth;
  });
}

describe('crossEntropy (reference)', () => {
  it("'none' gives -log softmax[target] per position, 0 where ignored; i32 and i64 targets agree", () => {
    tidy(() => {
      const logits = randomInput([2, 3, 5], { dtype: 'f64', seed: 1 });
      const t = [4, 0, -100, 2, 2, 1];
      const expected = lossRows(logits.toFlatArray(), t, 5);
      for (const dtype of ['i32', 'i64'] as const) {
        const losses = crossEntropy(logits, targetsOn('reference', t, [2, 3], dtype), { reduction: 'none' });
        expect(losses.shape).toEqual([2, 3]);
        expectClose(losses, expected, toleranceFor('f64'), dtype);
      }
      // A custom ignoreIndex; -100 is then an error, being outside [0, V).
      const custom = crossEntropy(logits, targetsOn('reference', [4, 0, 3, 2, 2, 1], [2, 3]), { reduction: 'none', ignoreIndex: 3 });
      expectClose(custom, lossRows(logits.toFlatArray(), [4, 0, 3, 2, 2, 1], 5, 0, 3), toleranceFor('f64'));
    });
  });

  it('label smoothing matches (1 - e) * nll + e * mean over classes of -log p', () => {
    tidy(() => {
      const logits = randomInput([4, 7], { dtype: 'f64', seed: 2 });
      const t = [6, -100, 0, 3];
      const losses = crossEntropy(logits, targetsOn('reference', t, [4]), { reduction: 'none', labelSmoothing: 0.1 });
      expectClose(losses, lossRows(logits.toFlatArray(), t, 7, 0.1), toleranceFor('f64'));
    });
  });

  it("'mean' averages over targets that are not ignored, 'sum' adds; all ignored gives 0 (not NaN)", () => {
    tidy(() => {
      const logits = randomInput([5, 6], { dtype: 'f64', seed: 3 });
      const t = [1, -100, 5, -100, 0];
      const rows = lossRows(logits.toFlatArray(), t, 6);
      const total = rows.reduce((a, b) => a + b, 0);
      const mean = crossEntropy(logits, targetsOn('reference', t, [5]));
      expect(mean.shape).toEqual([]);
      expect(mean.item()).toBeCloseTo(total / 3, 12);
      expect(crossEntropy(logits, targetsOn('reference', t, [5]), { reduction: 'sum' }).item()).toBeCloseTo(total, 12);
      const none = targetsOn('reference', [-100, -100, -100, -100, -100], [5]);
      expect(crossEntropy(logits, none).item()).toBe(0);
      expect(crossEntropy(logits, none, { reduction: 'sum' }).item()).toBe(0);
      // An empty batch: 0 for both reductions, no target at all.
      const empty = crossEntropy(randomInput([0, 6], { dtype: 'f64' }), targetsOn('reference', [], [0]));
      expect(empty.item()).toBe(0);
    });
  });

  it('gradients pass gradCheck for every reduction, with ignored targets and label smoothing', () => {
    const t = targetsOn('reference', [2, -100, 0, 4, 1, 1], [2, 3]);
    const logits = () => randomInput([2, 3, 5], { dtype: 'f64', seed: 4 });
    gradCheck((x) => crossEntropy(x, t, { reduction: 'none' }), [logits()]);
    gradCheck((x) => crossEntropy(x, t, { labelSmoothing: 0.2 }), [logits()]);
    gradCheck((x) => crossEntropy(x, t, { reduction: 'sum', labelSmoothing: 0.05 }), [logits()]);
    gradCheck((x) => crossEntropy(x, t), [randomInput([2, 3, 5], { dtype: 'f64', seed: 5, layout: 'transposed' })]);
    t.dispose();
  });

  it('errors name the op, the argument and both shapes', () => {
    tidy(() => {
      const logits = randomInput([2, 3, 5], { dtype: 'f32' });
      expect(() => crossEntropy(logits, targetsOn('reference', [0, 1], [2]))).toThrow(/crossEntropy: targets must have shape \[2, 3\] \(logits \[2, 3, 5\] without the class dimension\).*\[2\]/);
      expect(() => crossEntropy(logits, targetsOn('reference', [0, 1, 5, 0, 0, 0], [2, 3]))).toThrow(/crossEntropy: target 5 of row 2 is outside \[0, 5\) and is not ignoreIndex \(-100\)/);
      expect(() => crossEntropy(logits, randomInput([2, 3], { dtype: 'f32' }))).toThrow(/crossEntropy: targets must be i32 or i64, got .*f32 \[2, 3\]/);
      expect(() => crossEntropy(logits, targetsOn('reference', [0, 0, 0, 0, 0, 0], [2, 3]), { labelSmoothing: 1 })).toThrow(/labelSmoothing must be in \[0, 1\), got 1/);
      expect(() => crossEntropy(logits, targetsOn('reference', [0, 0, 0, 0, 0, 0], [2, 3]), { reduction: 'avg' as 'mean' })).toThrow(/reduction must be 'mean', 'sum' or 'none'/);
    });
  });
});

describeSimdLevels('crossEntropy', () => {
  const shapes = [[1, 1], [3, 17], [5, 129], [2, 3, 40]] as const;
  for (const dtype of FLOAT_DTYPES) {
    it(`${dtype}: losses and dlogits match the reference (ignored rows, smoothing, i32 and i64)`, () => {
      tidy(() => {
        for (const shape of shapes) {
          const V = shape[shape.length - 1]!;
          const lead: number[] = shape.slice(0, -1);
          const n = lead.reduce((a, b) => a * b, 1);
          const t = Array.from({ length: n }, (_, i) => (i % 4 === 3 ? -100 : (i * 7) % V));
          const [xr, xc] = pair(shape, { dtype, seed: V });
          const [gr, gc] = pair(lead, { dtype: 'f32', seed: V + 1 });
          for (const [smoothing, tdtype] of [[0, 'i32'], [0.1, 'i64']] as const) {
            const lr = crossEntropy(xr.detach().requiresGrad_(), targetsOn('reference', t, lead, tdtype), { reduction: 'none', labelSmoothing: smoothing });
            const lc = crossEntropy(xc.detach().requiresGrad_(), targetsOn('cpu', t, lead, tdtype), { reduction: 'none', labelSmoothing: smoothing });
            const label = `${dtype} [${shape}] smoothing ${smoothing}`;
            expect(lc.dtype).toBe('f32');
            // The loss is computed in f32 from logits held in dtype: f32 tolerance.
            expectParity(lc, lr, 'f32', label, 2);
            expectParity(gradsOf(lc, gc)[0]!, gradsOf(lr, gr)[0]!, dtype, `${label} dlogits`);
          }
        }
      });
    });
  }

  it('large vocabulary (V = 32000, N = 7) in bf16: losses and dlogits match the reference', () => {
    tidy(() => {
      const [xr, xc] = pair([7, 32000], { dtype: 'bf16', seed: 9, uniform: [-8, 8] });
      const t = [31999, 0, 12345, -100, 7, 20000, 31998];
      const [gr, gc] = pair([7], { seed: 10 });
      const lr = crossEntropy(xr.detach().requiresGrad_(), targetsOn('reference', t, [7]), { reduction: 'none', labelSmoothing: 0.1 });
      const lc = crossEntropy(xc.detach().requiresGrad_(), targetsOn('cpu', t, [7]), { reduction: 'none', labelSmoothing: 0.1 });
      expectParity(lc, lr, 'f32', 'V 32000 losses', 2);
      expectParity(gradsOf(lc, gc)[0]!, gradsOf(lr, gr)[0]!, 'bf16', 'V 32000 dlogits');
    });
  });

  it('transposed logits and strided targets are copied by the op and match', () => {
    tidy(() => {
      const [xr, xc] = pair([6, 11], { layout: 'transposed', seed: 17 });
      const t = [0, 10, -100, 3, 3, 7, 1, 1, 1, 1, 1, 1];
      // Every other target of a longer row: a strided view.
      const strided = (device: string) => targetsOn(device, t, [12]).slice(0, 0, undefined, 2);
      const lr = crossEntropy(xr.detach().requiresGrad_(), strided('reference'), { reduction: 'none' });
      const lc = crossEntropy(xc.detach().requiresGrad_(), strided('cpu'), { reduction: 'none' });
      expectParity(lc, lr, 'f32', 'losses');
      const [gr, gc] = pair([6], { seed: 18 });
      expectParity(gradsOf(lc, gc)[0]!, gradsOf(lr, gr)[0]!, 'f32', 'dlogits');
    });
  });

  it('end to end on cpu: backward() through rmsNorm, crossEntropy and the autograd engine matches the reference', () => {
    tidy(() => {
      const [xr, xc] = pair([2, 5, 33], { seed: 19 });
      const [wr, wc] = pair([33], { seed: 20, uniform: [0.5, 1.5] });
      const t = [1, 32, -100, 4, 5, 0, 7, -100, 9, 30];
      const run = (x: Tensor, w: Tensor, device: string) => {
        const [xl, wl] = [x.detach().requiresGrad_(), w.detach().requiresGrad_()];
        crossEntropy(rmsNorm(xl, wl), targetsOn(device, t, [2, 5]), { labelSmoothing: 0.1 }).backward();
        return [xl.grad!, wl.grad!];
      };
      const [dxr, dwr] = run(xr, wr, 'reference');
      const [dxc, dwc] = run(xc, wc, 'cpu');
      expectParity(dxc!, dxr!, 'f32', 'dx', 2);
      expectParity(dwc!, dwr!, 'f32', 'dweight', 4);
    });
  });

  it("'mean' and 'sum' on cpu, and their gradients", () => {
    tidy(() => {
      const [xr, xc] = pair([6, 33], { seed: 11 });
      const t = [3, -100, 32, 0, -100, 5];
      for (const reduction of ['mean', 'sum'] as const) {
        const lr = crossEntropy(xr.detach().requiresGrad_(), targetsOn('reference', t, [6]), { reduction });
        const lc = crossEntropy(xc.detach().requiresGrad_(), targetsOn('cpu', t, [6]), { reduction });
        expectParity(lc, lr, 'f32', reduction);
        const g = (device: string) => tensor([1.5], { device, shape: [] });
        expectParity(gradsOf(lc, g('cpu'))[0]!, gradsOf(lr, g('reference'))[0]!, 'f32', `${reduction} dlogits`);
      }
      const none = targetsOn('cpu', [-100, -100, -100, -100, -100, -100], [6]);
      expect(crossEntropy(xc, none).item()).toBe(0);
    });
  });
});
