import { describe, expect, it } from 'vitest';
import { expectClose, gradCheck, randomInput, toleranceFor } from '@lmflow/test-utils';
import {
  abs, add, add_, cat, clamp, embedding, gather, liveTensorCount, logsumexp, max, mean, split, copy_, cos, div, div_, eq, exp, fill_, ge, gelu, geluTanh, gt, le, log, lt, maximum, minimum, mul, mul_, ne, neg, noGrad, pow,
  reciprocal, relu, rsqrt, sigmoid, silu, sin, sqrt, square, sub, sub_, tanh, tensor, tidy, where, zero_, type Tensor,
} from '../index.js';

const f64 = (shape: number[], seed: number, uniform?: [number, number]) => randomInput(shape, { dtype: 'f64', device: 'reference', seed, uniform });

describe('binary arithmetic', () => {
  it('broadcasts (3, 1, 5) with (4, 1) to (3, 4, 5)', () => {
    tidy(() => {
      const a = f64([3, 1, 5], 1);
      const b = f64([4, 1], 2);
      const av = a.toFlatArray();
      const bv = b.toFlatArray();
      const expected: number[] = [];
      for (let i = 0; i < 3; i++) for (let j = 0; j < 4; j++) for (let k = 0; k < 5; k++) expected.push(av[i * 5 + k]! * bv[j]!);
      const out = mul(a, b);
      expect(out.shape).toEqual([3, 4, 5]);
      expect(out.toFlatArray()).toEqual(expected);
    });
  });

  it('takes numbers on either side', () => {
    tidy(() => {
      const x = tensor([1, 2, 4], { dtype: 'f64', device: 'reference' });
      expect(add(x, 1).toFlatArray()).toEqual([2, 3, 5]);
      expect(sub(x, 1).toFlatArray()).toEqual([0, 1, 3]);
      expect(sub(10, x).toFlatArray()).toEqual([9, 8, 6]);
      expect(mul(3, x).toFlatArray()).toEqual([3, 6, 12]);
      expect(div(x, 4).toFlatArray()).toEqual([0.25, 0.5, 1]);
      expect(div(8, x).toFlatArray()).toEqual([8, 4, 2]);
      expect(pow(x, 2).toFlatArray()).toEqual([1, 4, 16]);
      expect(pow(2, x).toFlatArray()).toEqual([2, 4, 16]);
      expect(maximum(x, 2).toFlatArray()).toEqual([2, 2, 4]);
      expect(minimum(2, x).toFlatArray()).toEqual([1, 2, 2]);
      expect(x.add(1).mul(2).sub(x).toFlatArray()).toEqual([3, 4, 6]);
    });
  });

  it('integer tensors compute exactly and division truncates toward zero', () => {
    for (const device of ['reference', 'cpu']) {
      tidy(() => {
        const a = tensor([7, -7, 9, 100], { dtype: 'i32', device });
        const b = tensor([2, 2, -4, 7], { dtype: 'i32', device });
        expect(div(a, b).toFlatArray()).toEqual([3, -3, -2, 14]);
        expect(div(a, 2).toFlatArray()).toEqual([3, -3, 4, 50]);
        expect(add(a, b).dtype).toBe('i32');
        expect(mul(a, 3).toFlatArray()).toEqual([21, -21, 27, 300]);
      });
    }
  });

  it('errors name the op and both shapes or dtypes', () => {
    tidy(() => {
      const a = f64([2, 3], 1);
      const b = f64([4], 2);
      expect(() => add(a, b)).toThrow('add: shapes [2, 3] and [4] cannot be broadcast together (dimension 1: 3 vs 4)');
      const c = randomInput([2, 3], { device: 'reference' });
      expect(() => mul(a, c)).toThrow(/mul: dtypes differ: tensor #\d+ \(f64 \[2, 3\] on reference\) and tensor #\d+ \(f32 \[2, 3\] on reference\)/);
      expect(() => add(1 as never, 2 as never)).toThrow('add: at least one operand must be a Tensor, got number and number');
      expect(() => exp(tensor([1], { dtype: 'i32', device: 'reference' }))).toThrow(/exp: expected a floating tensor/);
    });
  });
});

describe('gradients (float64 finite differences)', () => {
  it('tensor-tensor arithmetic with broadcasting', () => {
    const a = f64([3, 1, 5], 1, [0.5, 2]);
    const b = f64([4, 1], 2, [0.5, 2]);
    gradCheck((x, y) => add(x!, y!), [a, b]);
    gradCheck((x, y) => sub(x!, y!), [a, b]);
    gradCheck((x, y) => mul(x!, y!), [a, b]);
    gradCheck((x, y) => div(x!, y!), [a, b]);
    gradCheck((x, y) => pow(x!, y!), [a, b]);
    gradCheck((x, y) => maximum(x!, y!), [a, b]);
    gradCheck((x, y) => minimum(x!, y!), [a, b]);
    a.dispose();
    b.dispose();
  });

  it('arithmetic with numbers on either side', () => {
    const x = f64([17], 3, [0.5, 2]);
    gradCheck((t) => add(t!, 3), [x]);
    gradCheck((t) => sub(3, t!), [x]);
    gradCheck((t) => mul(t!, -2.5), [x]);
    gradCheck((t) => div(t!, 3), [x]);
    gradCheck((t) => div(3, t!), [x]);
    gradCheck((t) => pow(t!, 2.5), [x]);
    gradCheck((t) => pow(t!, 0), [x]);
    gradCheck((t) => pow(1.7, t!), [x]);
    gradCheck((t) => maximum(t!, 1.2), [x]);
    gradCheck((t) => minimum(1.2, t!), [x]);
    x.dispose();
  });

  it('every unary op', () => {
    const any = f64([3, 7], 4, [-3, 3]);
    const positive = f64([3, 7], 5, [0.2, 4]);
    for (const fn of [neg, abs, exp, square, sin, cos, tanh, sigmoid, relu, silu, gelu, geluTanh]) gradCheck((t) => fn(t!), [any]);
    for (const fn of [log, sqrt, rsqrt, reciprocal]) gradCheck((t) => fn(t!), [positive]);
    // Far tails of gelu, where erf's complement matters.
    gradCheck((t) => gelu(t!), [tensor([-9, -6, -4.5, 4.5, 6], { dtype: 'f64', device: 'reference' })]);
    any.dispose();
    positive.dispose();
  });

  it('where, clamp and chains of ops', () => {
    const a = f64([3, 1, 5], 6);
    const b = f64([4, 1], 7);
    const cond = tidy(() => gt(f64([3, 4, 1], 8), 0));
    gradCheck((x, y) => where(cond, x!, y!), [a, b]);
    gradCheck((x) => where(cond, x!, 0.5), [a]);
    gradCheck((x) => clamp(x!, -0.5, 0.7), [a]);
    gradCheck((x) => clamp(x!, undefined, 0.1), [a]);
    gradCheck((x, y) => silu(mul(add(x!, y!), sub(y!, 0.3))).div(add(exp(x!), 1)), [a, b]);
    for (const t of [a, b, cond]) t.dispose();
  });

  it('maximum and minimum split the gradient evenly on ties', () => {
    tidy(() => {
      const x = tensor([1, 2, 3], { dtype: 'f64', device: 'reference', requiresGrad: true });
      const y = tensor([1, 5, 0], { dtype: 'f64', device: 'reference', requiresGrad: true });
      maximum(x, y).sum().backward();
      expect(x.grad!.toFlatArray()).toEqual([0.5, 0, 1]);
      expect(y.grad!.toFlatArray()).toEqual([0.5, 1, 0]);
      const z = tensor([1, 2], { dtype: 'f64', device: 'reference', requiresGrad: true });
      minimum(z, 2).sum().backward();
      expect(z.grad!.toFlatArray()).toEqual([1, 0.5]);
    });
  });
});

describe('cpu gradients match the reference', () => {
  const unaryOps: [string, (t: Tensor) => Tensor, [number, number]][] = [
    ['neg', neg, [-3, 3]], ['abs', abs, [-3, 3]], ['exp', exp, [-3, 3]], ['log', log, [0.2, 4]], ['sqrt', sqrt, [0.2, 4]],
    ['rsqrt', rsqrt, [0.2, 4]], ['square', square, [-3, 3]], ['reciprocal', reciprocal, [0.5, 4]], ['sin', sin, [-3, 3]],
    ['cos', cos, [-3, 3]], ['tanh', tanh, [-3, 3]], ['sigmoid', sigmoid, [-6, 6]], ['relu', relu, [-3, 3]],
    ['silu', silu, [-6, 6]], ['gelu', gelu, [-6, 6]], ['geluTanh', geluTanh, [-6, 6]],
  ];
  const binaryOps: [string, (a: Tensor, b: Tensor) => Tensor][] = [
    ['add', add], ['sub', sub], ['mul', mul], ['div', div], ['pow', pow], ['maximum', maximum], ['minimum', minimum],
    ['where', (a, b) => where(gt(a, 1), a, b)], ['clamp', (a, b) => clamp(a, 0.8, 1.5).mul(b)],
  ];

  /** Values and gradients of fn on both backends (gradient of sum(out * w) for fixed w). */
  function compare(name: string, fn: (...t: Tensor[]) => Tensor, inputs: Tensor[], dtype: 'f32' | 'bf16'): void {
    const run = (device: string) => {
      const leaves = inputs.map((t) => t.to(device).cast(dtype).detach().requiresGrad_());
      const out = fn(...leaves);
      const w = randomInput(out.shape, { dtype, device, seed: 99 });
      out.mul(w).sum().backward();
      return { out, grads: leaves.map((l) => l.grad!) };
    };
    tidy(() => {
      const cpu = run('cpu');
      const ref = run('reference');
      const tol = toleranceFor(dtype);
      expectClose(cpu.out, ref.out, tol, `${name} ${dtype} value`);
      cpu.grads.forEach((g, i) => expectClose(g, ref.grads[i]!, { atol: tol.atol * 4, rtol: tol.rtol * 2 }, `${name} ${dtype} grad ${i}`));
    });
  }

  it('unary ops (f32 and bf16)', () => {
    for (const [name, fn, range] of unaryOps) {
      const x = randomInput([17, 33], { device: 'reference', seed: 3, uniform: range });
      for (const dtype of ['f32', 'bf16'] as const) compare(name, fn, [x], dtype);
      x.dispose();
    }
  });

  it('binary ops with broadcasting (f32 and bf16)', () => {
    const a = randomInput([3, 1, 129], { device: 'reference', seed: 4, uniform: [0.5, 2] });
    const b = randomInput([17, 1], { device: 'reference', seed: 5, uniform: [0.5, 2] });
    for (const [name, fn] of binaryOps) {
      for (const dtype of ['f32', 'bf16'] as const) compare(name, fn, [a, b], dtype);
    }
    a.dispose();
    b.dispose();
  });
});

describe('comparisons and where', () => {
  it('give u8 masks, broadcast, and take numbers', () => {
    tidy(() => {
      const x = tensor([1, 2, 3], { device: 'reference' });
      const y = tensor([[2], [3]], { device: 'reference' });
      expect(lt(x, y).dtype).toBe('u8');
      expect(lt(x, y).toArray()).toEqual([[1, 0, 0], [1, 1, 0]]);
      expect(eq(x, 2).toFlatArray()).toEqual([0, 1, 0]);
      expect(ne(2, x).toFlatArray()).toEqual([1, 0, 1]);
      expect(ge(x, 2).toFlatArray()).toEqual([0, 1, 1]);
      expect(le(x, 2).toFlatArray()).toEqual([1, 1, 0]);
      expect(x.gt(1.5).toFlatArray()).toEqual([0, 1, 1]);
      // A fractional bound against integers compares the real numbers (not x < 2).
      const ids = tensor([1, 2, 3], { dtype: 'i32', device: 'cpu' });
      expect(lt(ids, 2.5).toFlatArray()).toEqual([1, 1, 0]);
      expect(eq(ids, 2.5).toFlatArray()).toEqual([0, 0, 0]);
    });
  });

  it('where selects with broadcasting and numbers on either side', () => {
    for (const device of ['reference', 'cpu']) {
      tidy(() => {
        const x = tensor([[1, -2, 3], [-4, 5, -6]], { device });
        const picked = where(gt(x, 0), x, 0);
        expect(picked.toArray()).toEqual([[1, 0, 3], [0, 5, 0]]);
        const rows = where(tensor([[1], [0]], { dtype: 'u8', device }), 7, x);
        expect(rows.toArray()).toEqual([[7, 7, 7], [-4, 5, -6]]);
        expect(() => where(x, x, x)).toThrow(/where: cond must be u8/);
      });
    }
  });

  it('clamp limits values and passes the gradient only inside the range (bounds included)', () => {
    tidy(() => {
      const x = tensor([-2, -1, 0, 1, 2], { dtype: 'f64', device: 'reference', requiresGrad: true });
      const y = clamp(x, -1, 1);
      expect(y.toFlatArray()).toEqual([-1, -1, 0, 1, 1]);
      y.sum().backward();
      expect(x.grad!.toFlatArray()).toEqual([0, 1, 1, 1, 0]);
      expect(clamp(x.detach(), 0.5).toFlatArray()).toEqual([0.5, 0.5, 0.5, 1, 2]);
      expect(() => clamp(x)).toThrow(/clamp: give min, max or both/);
    });
  });
});

describe('in-place updates', () => {
  it('add_, sub_, mul_, div_, copy_, fill_ and zero_ update the tensor itself', () => {
    for (const device of ['reference', 'cpu']) {
      tidy(() => {
        const t = tensor([[1, 2, 3], [4, 5, 6]], { device });
        const row = tensor([10, 20, 30], { device });
        expect(add_(t, row)).toBe(t);
        expect(t.toArray()).toEqual([[11, 22, 33], [14, 25, 36]]);
        sub_(t, row, 0.5);
        expect(t.toArray()).toEqual([[6, 12, 18], [9, 15, 21]]);
        mul_(t, 2);
        div_(t, tensor([[3], [3]], { device }));
        expect(t.toArray()).toEqual([[4, 8, 12], [6, 10, 14]]);
        t.add_(1).sub_(2).mul_(0.5).div_(2);
        expect(t.toArray()).toEqual([[0.75, 1.75, 2.75], [1.25, 2.25, 3.25]]);
        copy_(t, tensor([1.5, 2.5, 3.5], { dtype: 'f64', device }));
        expect(t.toArray()).toEqual([[1.5, 2.5, 3.5], [1.5, 2.5, 3.5]]);
        const ints = tensor([0, 0], { dtype: 'i32', device });
        ints.copy_(tensor([2.9, -2.9], { device }));
        expect(ints.toFlatArray()).toEqual([2, -2]);
        fill_(t, 7);
        expect(t.toFlatArray()).toEqual([7, 7, 7, 7, 7, 7]);
        zero_(t.slice(1, 1, 2));
        expect(t.toArray()).toEqual([[7, 0, 7], [7, 0, 7]]);
      });
    }
  });

  it('refuse tensors that require grad (unless under noGrad), expanded views and enlarging broadcasts', () => {
    tidy(() => {
      const w = tensor([1, 2], { device: 'reference', requiresGrad: true });
      expect(() => add_(w, 1)).toThrow(/add_: tensor #\d+ \(f32 \[2\] on reference\) requires grad, and in-place updates are not recorded/);
      noGrad(() => w.mul_(3));
      expect(w.toFlatArray()).toEqual([3, 6]);
      const expanded = tensor([1], { device: 'reference' }).expand(3);
      expect(() => fill_(expanded, 0)).toThrow(/fill_: .* is an expanded \(stride-0\) view/);
      const small = tensor([1, 2], { device: 'reference' });
      expect(() => add_(small, tensor([[1, 2], [3, 4]], { device: 'reference' }))).toThrow(
        /add_: tensor #\d+ \(f32 \[2, 2\] on reference\) cannot be broadcast to the shape \[2\]/,
      );
    });
  });
});

describe('memory', () => {
  it('forward and backward of every area leave no live tensors behind', () => {
    for (const device of ['reference', 'cpu']) {
      const before = liveTensorCount();
      tidy(() => {
        const x = randomInput([4, 6], { device, seed: 1, requiresGrad: true });
        const y = randomInput([6], { device, seed: 2, uniform: [0.5, 2], requiresGrad: true });
        const w = randomInput([10, 6], { device, seed: 3, requiresGrad: true });
        const ids = tensor([[1, 9], [9, 0]], { dtype: 'i32', device });
        const index = tensor([[0, 5], [1, 1], [2, 0], [3, 3]], { dtype: 'i64', device });
        const [a, b] = split(x, [2, 4], 1) as [Tensor, Tensor];
        const parts = [
          div(sub(2, x), y).pow(2).mean(),
          where(gt(x, 0), silu(x), maximum(x, -0.5)).sum(),
          clamp(mul(x, y), -1, 1).max(1).sum(),
          logsumexp(x, 1).sum(),
          embedding(w, ids).sum(),
          gather(x, 1, index).sum(),
          cat([a.exp(), b], 1).sum(),
          max(x).add(mean(y)),
        ];
        parts.reduce((s, p) => add(s, p)).backward();
        for (const t of [x, y, w]) expect(t.grad, device).not.toBeNull();
      });
      expect(liveTensorCount(), device).toBe(before);
    }
  });
});
