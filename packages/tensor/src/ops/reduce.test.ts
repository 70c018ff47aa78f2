import { describe, expect, it } from 'vitest';
import { expectClose, gradCheck, randomInput, toleranceFor } from '@lmflow/test-utils';
import { argmax, logsumexp, max, mean, min, sum, tensor, tidy, zeros, type Tensor } from '../index.js';

const f64 = (shape: number[], seed: number) => randomInput(shape, { dtype: 'f64', device: 'reference', seed });

/** Host reduction of a row-major array over axes, for expected values. */
function hostReduce(values: number[], shape: number[], axes: number[], f: (a: number, b: number) => number, init: number): number[] {
  const kept = shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const out = new Array<number>(kept.reduce((a, b) => a * b, 1)).fill(init);
  values.forEach((v, flat) => {
    let rest = flat;
    let o = 0;
    let stride = 1;
    for (let d = shape.length - 1; d >= 0; d--) {
      const i = rest % shape[d]!;
      rest = Math.floor(rest / shape[d]!);
      if (!axes.includes(d)) o += i * stride;
      stride *= kept[d]!;
    }
    out[o] = f(out[o]!, v);
  });
  return out;
}

describe('sum, mean, max, min', () => {
  const cases: [number[], number | number[] | undefined, boolean][] = [
    [[3, 4, 5], 1, false],
    [[3, 4, 5], -1, true],
    [[3, 4, 5], [0, 2], false],
    [[3, 4, 5], [2, 0], true],
    [[3, 4, 5], undefined, false],
    [[3, 4, 5], undefined, true],
    [[7], 0, false],
  ];

  it('reduce over one axis, several, all, with keepDim and negative axes', () => {
    tidy(() => {
      for (const [shape, axes, keepDim] of cases) {
        const x = f64(shape, 1);
        const list = axes === undefined ? shape.map((_, i) => i) : (typeof axes === 'number' ? [axes] : axes).map((a) => (a < 0 ? a + shape.length : a));
        const keptShape = shape.map((d, i) => (list.includes(i) ? 1 : d));
        const outShape = keepDim ? keptShape : shape.filter((_, i) => !list.includes(i));
        const values = x.toFlatArray();
        const sums = hostReduce(values, shape, list, (a, b) => a + b, 0);
        const count = list.reduce((n, a) => n * shape[a]!, 1);
        const label = `[${shape}] axes ${JSON.stringify(axes)} keepDim ${keepDim}`;
        for (const [result, expected] of [
          [sum(x, axes, keepDim), sums],
          [mean(x, axes, keepDim), sums.map((s) => s / count)],
          [max(x, axes, keepDim), hostReduce(values, shape, list, Math.max, -Infinity)],
          [min(x, axes, keepDim), hostReduce(values, shape, list, Math.min, Infinity)],
        ] as [Tensor, number[]][]) {
          expect(result.shape, label).toEqual(outShape);
          expectClose(result, expected, toleranceFor('f64'), label);
        }
      }
    });
  });

  it('integer sums give i64; methods mirror the functions', () => {
    tidy(() => {
      const mask = tensor(new Uint8Array(300).fill(1), { dtype: 'u8', device: 'cpu' });
      const total = sum(mask);
      expect(total.dtype).toBe('i64');
      expect(total.item()).toBe(300);
      const x = tensor([[1, 5], [7, 3]], { device: 'cpu' });
      expect(x.sum(0).toFlatArray()).toEqual([8, 8]);
      expect(x.mean(1, true).toArray()).toEqual([[3], [5]]);
      expect(x.max().item()).toBe(7);
      expect(x.min(1).toFlatArray()).toEqual([1, 3]);
      expect(() => mean(tensor([1, 2], { dtype: 'i32', device: 'cpu' }))).toThrow(/mean: expected a floating tensor/);
      expect(() => max(tensor([[]], { device: 'cpu' }), 1)).toThrow(/max: cannot reduce .* over an empty axis/);
      expect(() => sum(x, 2)).toThrow('sum: axis 2 is out of range for a tensor with 2 dimension(s)');
    });
  });

  it('gradients: sum, mean, max and min (ties share the gradient)', () => {
    const x = f64([3, 4, 5], 2);
    for (const [axes, keepDim] of [[1, false], [[0, 2], true], [undefined, false]] as const) {
      gradCheck((t) => sum(t!, axes, keepDim), [x]);
      gradCheck((t) => mean(t!, axes, keepDim), [x]);
      gradCheck((t) => max(t!, axes, keepDim), [x]);
      gradCheck((t) => min(t!, axes, keepDim), [x]);
    }
    x.dispose();
    tidy(() => {
      const t = tensor([[1, 3, 3], [2, 0, 2]], { dtype: 'f64', device: 'reference', requiresGrad: true });
      max(t, 1).sum().backward();
      expect(t.grad!.toArray()).toEqual([[0, 0.5, 0.5], [0.5, 0, 0.5]]);
    });
  });

  it('cpu values and gradients match the reference (f32, bf16, transposed input)', () => {
    for (const dtype of ['f32', 'bf16'] as const) {
      for (const [name, fn] of [['sum', sum], ['mean', mean], ['max', max], ['min', min], ['logsumexp', logsumexp]] as const) {
        for (const [axes, keepDim] of [[1, false], [[0, 2], true], [undefined, false]] as const) {
          tidy(() => {
            const base = randomInput([5, 33, 17], { device: 'cpu', dtype, seed: 8, layout: 'transposed' });
            const run = (device: string) => {
              const leaf = base.to(device).detach().requiresGrad_();
              const out = fn(leaf, axes, keepDim);
              const w = randomInput(out.shape, { device, dtype, seed: 9 });
              out.mul(w).sum().backward();
              return [out, leaf.grad!];
            };
            const [outCpu, gCpu] = run('cpu');
            const [outRef, gRef] = run('reference');
            const label = `${name} ${dtype} axes ${JSON.stringify(axes)}`;
            expectClose(outCpu!, outRef!, toleranceFor(dtype), label);
            expectClose(gCpu!, gRef!, toleranceFor(dtype), `${label} grad`);
          });
        }
      }
    }
  });
});

describe('argmax', () => {
  it('returns i64 indices of the first maximum, along an axis or over everything', () => {
    for (const device of ['reference', 'cpu']) {
      tidy(() => {
        const x = tensor([[1, 9, 9], [4, 2, 8]], { device });
        expect(argmax(x, 1).dtype).toBe('i64');
        expect(argmax(x, 1).toFlatArray()).toEqual([1, 2]);
        expect(argmax(x, 0, true).toArray()).toEqual([[1, 0, 0]]);
        expect(argmax(x, -1, true).shape).toEqual([2, 1]);
        const all = argmax(x);
        expect(all.shape).toEqual([]);
        expect(all.item()).toBe(1);
        expect(x.transpose().argmax(0).toFlatArray()).toEqual([1, 2]);
        expect(argmax(tensor([1, NaN, 3], { device })).item()).toBe(1);
      });
    }
  });
});

describe('logsumexp', () => {
  it('is stable for large and -Infinity inputs', () => {
    for (const device of ['reference', 'cpu']) {
      tidy(() => {
        const x = tensor([[1000, 1000], [-Infinity, -Infinity], [0, Math.log(3)], [-Infinity, 2]], { device, dtype: 'f32' });
        const out = logsumexp(x, 1).toFlatArray();
        expect(out[0]).toBeCloseTo(1000 + Math.log(2), 3);
        expect(out[1]).toBe(-Infinity);
        expect(out[2]).toBeCloseTo(Math.log(4), 5);
        expect(out[3]).toBeCloseTo(2, 6);
      });
    }
  });

  it('gradient is softmax', () => {
    const x = f64([4, 6], 3);
    gradCheck((t) => logsumexp(t!, 1), [x]);
    gradCheck((t) => logsumexp(t!, [0, 1], true), [x]);
    x.dispose();
  });
});

describe('empty reductions', () => {
  for (const device of ['reference', 'cpu']) {
    it(`sum over nothing is 0, mean is NaN, max has no identity, on ${device}`, () => {
      tidy(() => {
        expect(sum(zeros([0], { device })).item()).toBe(0);
        expect(sum(zeros([3, 0], { device }), 1).toFlatArray()).toEqual([0, 0, 0]);
        expect(sum(zeros([0, 4], { device, dtype: 'bf16' }), 0).toFlatArray()).toEqual([0, 0, 0, 0]);
        expect(mean(zeros([0], { device })).item()).toBeNaN();
        expect(() => max(zeros([2, 0], { device }), 1)).toThrow(/empty axis/);
      });
    });
  }
});
