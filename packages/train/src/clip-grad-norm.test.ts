import { describe, expect, it } from 'vitest';
import { Generator, liveTensorCount, randn, tensor, type DType, type Tensor } from '@lmflow/tensor';
import { clipGradNorm } from './clip-grad-norm.js';

function withGrad(shape: number[], seed: number, dtype: DType = 'f32', scale = 1): Tensor {
  const p = randn(shape, { device: 'cpu', dtype }).requiresGrad_();
  p.grad = randn(shape, { device: 'cpu', dtype, generator: new Generator(seed), std: scale });
  return p;
}

/** The global norm in float64 from the gradients' exact values. */
function norm64(params: Tensor[]): number {
  let s = 0;
  for (const p of params) for (const x of p.grad!.toFlatArray()) s += x * x;
  return Math.sqrt(s);
}

describe('clipGradNorm (torch.nn.utils.clip_grad_norm_)', () => {
  it('returns the norm before clipping and scales every grad by maxNorm / (total + 1e-6)', () => {
    const params = [withGrad([33, 17], 1), withGrad([129], 2, 'bf16'), withGrad([5], 3)];
    const before = params.map((p) => p.grad!.toFlatArray());
    const total = norm64(params);
    expect(total).toBeGreaterThan(10);
    const live = liveTensorCount();
    const result = clipGradNorm(params.map((p, i) => [`p${i}`, p] as const), 1.0);
    expect(liveTensorCount()).toBe(live); // no temporaries left behind
    expect(result.clipped).toBe(true);
    expect(Math.abs(result.totalNorm - total) / total).toBeLessThan(1e-6);
    const scale = 1.0 / (total + 1e-6);
    expect(Math.abs(result.scale - scale) / scale).toBeLessThan(1e-6);
    params.forEach((p, i) => {
      const after = p.grad!.toFlatArray();
      const tol = p.dtype === 'bf16' ? 2 ** -8 : 1e-6;
      after.forEach((x, j) => expect(Math.abs(x - before[i]![j]! * scale)).toBeLessThanOrEqual(tol * Math.abs(before[i]![j]! * scale) + 1e-12));
    });
    // After clipping the global norm is maxNorm (to rounding).
    expect(norm64(params)).toBeCloseTo(1.0, 2);
  });

  it('leaves gradients untouched when the norm is at most maxNorm, and skips parameters without a gradient', () => {
    const params = [withGrad([10], 4, 'f32', 0.01), randn([4], { device: 'cpu' }).requiresGrad_()];
    const before = params[0]!.grad!.toFlatArray();
    const result = clipGradNorm([['a', params[0]!], ['b', params[1]!]], 1.0);
    expect(result).toEqual({ totalNorm: expect.any(Number), clipped: false, scale: 1, nonFinite: [] });
    expect(result.totalNorm).toBeCloseTo(norm64([params[0]!]), 6);
    expect(params[0]!.grad!.toFlatArray()).toEqual(before);
  });

  it('reports a non-finite norm with the parameters responsible, and scales nothing', () => {
    const good = withGrad([6], 5);
    const bad = randn([3], { device: 'cpu' }).requiresGrad_();
    bad.grad = tensor([1, NaN, 2], { device: 'cpu' });
    const inf = randn([2], { device: 'cpu' }).requiresGrad_();
    inf.grad = tensor([Infinity, 0], { device: 'cpu' });
    const before = good.grad!.toFlatArray();
    const result = clipGradNorm([['good', good], ['layers.3.w', bad], ['head', inf]], 0.5);
    expect(result.clipped).toBe(false);
    expect(Number.isNaN(result.totalNorm)).toBe(true);
    expect(result.nonFinite).toEqual(['layers.3.w', 'head']);
    expect(good.grad!.toFlatArray()).toEqual(before);
  });

  it('measures a norm whose squares overflow f32 instead of calling it infinite', () => {
    const p = randn([2], { device: 'cpu' }).requiresGrad_();
    p.grad = tensor([3e20, 4e20], { device: 'cpu' });
    const result = clipGradNorm([['p', p]], 1);
    expect(result.totalNorm / 5e20).toBeCloseTo(1, 6);
    expect(result.clipped).toBe(true);
    expect(p.grad.toFlatArray().map((x) => x / 0.2)).toEqual([expect.closeTo(3, 5), expect.closeTo(4, 5)]);
  });

  it('Infinity only measures; a bad maxNorm is refused', () => {
    const p = withGrad([8], 6, 'f32', 100);
    const result = clipGradNorm([['p', p]], Infinity);
    expect(result.clipped).toBe(false);
    expect(result.totalNorm).toBeGreaterThan(100);
    expect(() => clipGradNorm([['p', p]], 0)).toThrow('clipGradNorm: max_grad_norm is 0, expected a number > 0 (Infinity measures without clipping)');
  });
});
