import { describe, expect, it } from 'vitest';
import { add, liveTensorCount, mul, noGrad, sum, tensor, tidy, zeros } from '../index.js';

const device = 'reference';

describe('backward', () => {
  it('a tensor used twice gets both contributions (d/dx x*x = 2x)', () => {
    const x = tensor([1, -2, 3], { device, requiresGrad: true });
    const loss = sum(mul(x, x));
    loss.backward();
    expect(x.grad!.toFlatArray()).toEqual([2, -4, 6]);
    loss.dispose();
    x.dispose();
  });

  it('gradients accumulate into .grad across backward calls', () => {
    const x = tensor([1, 2], { device, requiresGrad: true });
    for (let i = 0; i < 3; i++) tidy(() => sum(mul(x, 3)).backward());
    expect(x.grad!.toFlatArray()).toEqual([9, 9]);
    x.dispose();
  });

  it('frees the graph: a second backward needs retainGraph', () => {
    const x = tensor([1, 2], { device, requiresGrad: true });
    const loss = sum(mul(x, x));
    loss.backward({ retainGraph: true });
    loss.backward();
    expect(x.grad!.toFlatArray()).toEqual([4, 8]);
    expect(() => loss.backward()).toThrow(/already freed.*retainGraph/);
    loss.dispose();
    x.dispose();
  });

  it('records nothing under noGrad', () => {
    const x = tensor([1, 2], { device, requiresGrad: true });
    const y = noGrad(() => mul(x, 2));
    expect(y.requiresGrad).toBe(false);
    expect(y.gradFn).toBeNull();
    y.dispose();
    x.dispose();
  });

  it('asks for a gradient when the root is not a scalar', () => {
    const x = tensor([1, 2], { device, requiresGrad: true });
    const y = mul(x, 2);
    expect(() => y.backward()).toThrow(/not a scalar/);
    y.backward({ gradient: tensor([1, 10], { device }) });
    expect(x.grad!.toFlatArray()).toEqual([2, 20]);
    y.dispose();
    x.dispose();
  });

  it('says which leaf was disposed before backward reached it', () => {
    const x = tensor([1, 2], { device, requiresGrad: true });
    x.name = 'layers.0.weight';
    const loss = sum(mul(x, x));
    x.dispose();
    expect(() => loss.backward()).toThrow(/"layers.0.weight".*disposed before backward/);
    loss.dispose();
  });

  it('releases saved tensors when an unused graph is disposed', () => {
    const x = tensor([1, 2, 3], { device, requiresGrad: true });
    const before = liveTensorCount();
    const loss = tidy(() => sum(add(mul(x, x), mul(x, 2))));
    expect(liveTensorCount()).toBeGreaterThan(before + 1); // saved aliases alive
    loss.dispose();
    expect(liveTensorCount()).toBe(before);
    x.dispose();
  });

  it('gives a zero-size-safe error for backward on something that needs no grad', () => {
    const x = zeros([2], { device });
    expect(() => sum(x).backward()).toThrow(/does not require grad/);
  });
});
