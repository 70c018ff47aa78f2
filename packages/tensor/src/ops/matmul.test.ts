/**
 * matmul and linear: torch.matmul shape rules with golden values, float64 gradient checks
 * (broadcast batches, 1-D operands, strided inputs), cpu against reference forward and
 * backward (f32 and bf16, every SIMD level), the number of GEMMs each op runs, and errors.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { copyTo, expectClose, gradCheck, randomInput, toleranceFor } from '@lmflow/test-utils';
import type { Backend } from '../backend.js';
import type { DType } from '../dtype.js';
import { Tensor } from '../tensor.js';
import { getBackend } from '../device.js';
import { noGrad } from '../autograd/grad-mode.js';
import { liveTensorCount } from '../memory/stats.js';
import { tidy } from '../memory/scope.js';
import { tensor } from './creation.js';
import { cpuNumThreads, cpuSimdLevel, setCpuNumThreads, setCpuSimdLevel } from '../backends/cpu/index.js';
import { linear, linearGroup, matmul } from './matmul.js';

const startLevel = cpuSimdLevel() as 'avx512';
afterAll(() => setCpuSimdLevel(startLevel));

const ref = (data: number[] | number[][] | number[][][], dtype: DType = 'f64') => tensor(data, { device: 'reference', dtype });

/** Runs fn on inputs that require grad, then its recorded backward with gradient g. */
function gradsOf(fn: (...xs: Tensor[]) => Tensor, inputs: Tensor[], seed: number, wants: boolean[] = inputs.map(() => true)): (number[] | null)[] {
  return tidy(() => {
    const leaves = inputs.map((t, i) => {
      const leaf = t.detach();
      if (wants[i]) leaf.requiresGrad = true;
      return leaf;
    });
    const out = fn(...leaves);
    const g = copyTo(randomInput(out.shape, { seed, dtype: out.dtype }), out.device);
    const node = out.gradFn!;
    // The backward closure itself, as the engine calls it (grad mode off, needs per input).
    const grads = noGrad(() => node.backward!(g, node.saved, node.edges.map((e) => e !== null)));
    grads.forEach((grad, i) => grad && expect(grad.shape).toEqual(node.inputMeta[i]!.shape));
    return grads.map((grad) => grad?.toFlatArray() ?? null);
  });
}

describe('matmul shapes and values', () => {
  it('multiplies matrices, vectors and batches as torch.matmul does', () => {
    tidy(() => {
      expect(matmul(ref([[1, 2], [3, 4]]), ref([[5, 6], [7, 8]])).toArray()).toEqual([[19, 22], [43, 50]]);
      const dot = matmul(ref([1, 2, 3]), ref([4, 5, 6]));
      expect(dot.shape).toEqual([]);
      expect(dot.item()).toBe(32);
      expect(matmul(ref([[1, 2, 3], [4, 5, 6]]), ref([1, 0, -1])).toArray()).toEqual([-2, -2]);
      expect(matmul(ref([1, -1]), ref([[1, 2, 3], [4, 5, 6]])).toArray()).toEqual([-3, -3, -3]);
      const batched = matmul(ref([1, 2]), ref([[[1, 0], [0, 1]], [[2, 0], [0, 3]]]));
      expect(batched.toArray()).toEqual([[1, 2], [2, 6]]);
      expect(ref([[1, 2]]).matmul(ref([[3], [4]])).toArray()).toEqual([[11]]);
    });
  });

  it('broadcasts batch dims: each (i, j) block is the product of the broadcast operands', () => {
    tidy(() => {
      const a = randomInput([2, 1, 3, 4], { dtype: 'f64', seed: 3 });
      const b = randomInput([3, 4, 5], { dtype: 'f64', seed: 4 });
      const out = matmul(a, b);
      expect(out.shape).toEqual([2, 3, 3, 5]);
      for (let i = 0; i < 2; i++) {
        for (let j = 0; j < 3; j++) {
          expectClose(out.select(0, i).select(0, j), matmul(a.select(0, i).select(0, 0), b.select(0, j)), toleranceFor('f64'));
        }
      }
    });
  });

  it('computes on bf16 and f16 in their own dtype', () => {
    tidy(() => {
      for (const dtype of ['bf16', 'f16'] as DType[]) {
        const out = matmul(ref([[1, 2], [3, 4]], dtype), ref([[0.5], [0.25]], dtype));
        expect(out.dtype).toBe(dtype);
        expect(out.toArray()).toEqual([[1], [2.5]]);
      }
    });
  });

  it('frees every temporary view it makes, forward and backward', () => {
    const a = randomInput([2, 3, 4], { dtype: 'f64', seed: 1 });
    const b = randomInput([4, 5], { dtype: 'f64', seed: 2 });
    const before = liveTensorCount();
    gradsOf(matmul, [a, b], 9);
    gradsOf((x, w) => linear(x, w.transpose()), [a, b], 9);
    expect(liveTensorCount()).toBe(before);
    a.dispose();
    b.dispose();
  });
});

describe('linear', () => {
  it('is x @ weight^T + bias with weight (out_features, in_features)', () => {
    tidy(() => {
      const w = ref([[1, 0, 2], [0, 1, -1]]);
      expect(linear(ref([[1, 2, 3]]), w).toArray()).toEqual([[7, -1]]);
      expect(linear(ref([1, 2, 3]), w, ref([10, 20])).toArray()).toEqual([17, 19]);
      const x = randomInput([2, 3, 3], { dtype: 'f64', seed: 7 });
      const b = ref([0.5, -0.5]);
      expectClose(linear(x, w, b), matmul(x, w.transpose()).toFlatArray().map((v, i) => v + (i % 2 ? -0.5 : 0.5)), toleranceFor('f64'));
    });
  });
});

describe('linearGroup', () => {
  // Odd sizes: 1 row (decoding's gemv), a few (skinny), many (the packed GEMM); an output
  // narrower than the rows (not skinny: the products run one by one).
  const shapes: [number[], number[]][] = [
    [[1, 37], [9, 50, 1, 33]],
    [[3, 37], [9, 50, 1]],
    [[2, 11, 37], [9, 50]],
    [[37], [16, 5]],
  ];

  it('equals linear on each weight, f32 and bf16, at every SIMD level and thread count', () => {
    const threads = cpuNumThreads();
    try {
      for (const level of ['avx512', 'avx2', 'scalar'] as const) {
        if (setCpuSimdLevel(level) !== level) continue;
        for (const n of [1, 3]) {
          setCpuNumThreads(n);
          for (const dtype of ['f32', 'bf16'] as const) {
            noGrad(() =>
              tidy(() => {
                for (const [xShape, outs] of shapes) {
                  const x = copyTo(randomInput(xShape, { dtype, seed: 1 }), 'cpu');
                  const ws = outs.map((o, i) => copyTo(randomInput([o, xShape[xShape.length - 1]!], { dtype, seed: 2 + i }), 'cpu'));
                  const ys = linearGroup(x, ws);
                  ys.forEach((y, i) => {
                    const label = `${level}, ${n} threads, ${dtype}, x [${xShape}], weight ${i}`;
                    expect(y.shape, label).toEqual([...xShape.slice(0, -1), outs[i]]);
                    // The same kernels on the same rows: equal to the bit.
                    expect(y.toFlatArray(), label).toEqual(linear(x, ws[i]!).toFlatArray());
                  });
                }
              }),
            );
          }
        }
      }
    } finally {
      setCpuNumThreads(threads);
      setCpuSimdLevel(startLevel);
    }
  });

  it('records gradients as linear does when autograd is on, and runs on backends without matmulGroup', () => {
    tidy(() => {
      const x = randomInput([2, 5], { dtype: 'f64', seed: 3 });
      const w = [randomInput([4, 5], { dtype: 'f64', seed: 4 }).requiresGrad_(), randomInput([3, 5], { dtype: 'f64', seed: 5 })];
      const ys = linearGroup(x, w);
      expect(ys[0]!.gradFn?.op).toBe('linear');
      ys.forEach((y, i) => expectClose(y, linear(x, w[i]!).toFlatArray(), toleranceFor('f64')));
    });
  });
});

describe('gradients (float64 finite differences on the reference backend)', () => {
  const f64 = (shape: number[], seed: number, layout: 'contiguous' | 'transposed' | 'strided' = 'contiguous') =>
    randomInput(shape, { dtype: 'f64', seed, layout });

  it('matmul: matrices, vectors, strided operands', () => {
    gradCheck(matmul, [f64([3, 4], 1), f64([4, 5], 2)]);
    gradCheck(matmul, [f64([3, 4], 1, 'transposed'), f64([4, 5], 2, 'strided')]);
    gradCheck(matmul, [f64([4], 1), f64([4], 2)]);
    gradCheck(matmul, [f64([3, 4], 1), f64([4], 2)]);
    gradCheck(matmul, [f64([4], 1), f64([2, 4, 5], 2)]);
  });

  it('matmul: broadcast batch dims, summed back in the gradient', () => {
    gradCheck(matmul, [f64([2, 1, 3, 4], 1), f64([3, 4, 5], 2)]);
    // a has no batch: its gradient sums over b's batch (folded into one GEMM or accumulated).
    gradCheck(matmul, [f64([3, 4], 1), f64([2, 4, 5], 2)]);
    gradCheck(matmul, [f64([2, 3, 4], 1, 'transposed'), f64([4, 5], 2)]);
    gradCheck(matmul, [f64([2, 3, 3, 4], 1), f64([3, 4, 2], 2, 'transposed')]);
  });

  it('linear: with and without bias, 1-D to 3-D inputs, strided inputs', () => {
    gradCheck((x, w, b) => linear(x, w, b), [f64([2, 3, 4], 1), f64([5, 4], 2), f64([5], 3)]);
    gradCheck((x, w) => linear(x, w), [f64([3, 4], 1, 'transposed'), f64([5, 4], 2, 'strided')]);
    gradCheck((x, w, b) => linear(x, w, b), [f64([4], 1), f64([5, 4], 2), f64([5], 3)]);
    gradCheck((x, w, b) => linear(x, w, b), [f64([2, 3, 4], 1, 'strided'), f64([5, 4], 2, 'transposed'), f64([5], 3, 'strided')]);
  });
});

describe('cpu forward and backward match the reference', () => {
  type Case = { name: string; fn: (...xs: Tensor[]) => Tensor; shapes: number[][]; layouts?: ('contiguous' | 'transposed' | 'strided')[] };
  const cases: Case[] = [
    { name: 'matmul 2-D', fn: matmul, shapes: [[17, 33], [33, 129]] },
    { name: 'matmul batch x matrix (folded)', fn: matmul, shapes: [[3, 7, 20], [20, 9]], layouts: ['contiguous', 'transposed'] },
    { name: 'matmul broadcast batches', fn: matmul, shapes: [[2, 1, 5, 6], [3, 6, 4]] },
    { name: 'matmul matrix x batch', fn: matmul, shapes: [[5, 6], [3, 6, 4]] },
    { name: 'matmul vector x matrix', fn: matmul, shapes: [[40], [40, 3]] },
    { name: 'linear with bias', fn: (x, w, b) => linear(x, w, b), shapes: [[2, 9, 40], [24, 40], [24]] },
    { name: 'linear decode rows', fn: (x, w, b) => linear(x, w, b), shapes: [[1, 64], [130, 64], [130]] },
    { name: 'linear strided x', fn: (x, w) => linear(x, w), shapes: [[6, 5, 20], [7, 20]], layouts: ['strided', 'contiguous'] },
  ];
  for (const level of ['avx512', 'avx2', 'scalar'] as const) {
    for (const dtype of ['f32', 'bf16'] as DType[]) {
      it(`${level} ${dtype}`, () => {
        setCpuSimdLevel(level);
        try {
          for (const c of cases) {
            tidy(() => {
              const inputs = c.shapes.map((s, i) => randomInput(s, { dtype, seed: 10 + i, layout: c.layouts?.[i] ?? 'contiguous' }));
              const tol = dtype === 'f32' ? { atol: 1e-4, rtol: 1e-4 } : toleranceFor(dtype);
              expectClose(c.fn(...inputs.map((t) => onCpuView(t))), c.fn(...inputs), tol, `${c.name} forward`);
              const want = gradsOf(c.fn, inputs, 99);
              const got = gradsOf(c.fn, inputs.map((t) => onCpuView(t)), 99);
              got.forEach((g, i) => expectClose(g!, want[i]!, tol, `${c.name} grad ${i}`));
              // Only the first input wanting a gradient: the others get none.
              const partial = gradsOf(c.fn, inputs.map((t) => onCpuView(t)), 99, inputs.map((_, i) => i === 0));
              expect(partial.slice(1).every((g) => g === null)).toBe(true);
              expectClose(partial[0]!, want[0]!, tol, `${c.name} grad 0 alone`);
            });
          }
        } finally {
          setCpuSimdLevel(startLevel);
        }
      });
    }
  }
});

describe('cpu gradients through the autograd engine', () => {
  it('backward() on cpu matches the reference for matmul and linear', () => {
    tidy(() => {
      const inputs = [randomInput([2, 5, 12], { seed: 1 }), randomInput([7, 12], { seed: 2 }), randomInput([7], { seed: 3 })];
      // (2, 5, 12) -> linear -> (2, 5, 7) -> @ w -> (2, 5, 12)
      const loss = (x: Tensor, w: Tensor, b: Tensor) => matmul(linear(x, w, b), w);
      const g = randomInput([2, 5, 12], { seed: 4 });
      const grads = (device: string) => {
        const leaves = inputs.map((t) => copyTo(t, device, 'f32', true));
        const out = loss(leaves[0]!, leaves[1]!, leaves[2]!);
        out.backward({ gradient: copyTo(g, device) });
        return leaves.map((t) => t.grad!.toFlatArray());
      };
      const want = grads('reference');
      // w is used twice: its two gradients are accumulated by the engine.
      grads('cpu').forEach((got, i) => expectClose(got, want[i]!, { atol: 1e-4, rtol: 1e-4 }, `input ${i}`));
    });
  });
});

/** The same values and view layout on the cpu backend (views need no cpu kernels). */
function onCpuView(t: Tensor): Tensor {
  const base = copyTo(new Tensor(t.storage, t.dtype, [t.storage.length], [1], 0), 'cpu');
  const view = new Tensor(base.storage, t.dtype, t.shape, t.strides, t.offset);
  base.dispose();
  return view;
}

describe('one GEMM per product', () => {
  function countCalls(fn: () => void): number {
    const backend = getBackend('cpu') as Backend & { matmul: Backend['matmul'] };
    const original = backend.matmul;
    let calls = 0;
    backend.matmul = (...args) => {
      calls++;
      original(...args);
    };
    try {
      fn();
    } finally {
      backend.matmul = original;
    }
    return calls;
  }

  it('folds batch dims into rows, forward and backward', () => {
    tidy(() => {
      const x = onCpuView(randomInput([4, 8, 16], { seed: 1 }));
      const w = onCpuView(randomInput([32, 16], { seed: 2 }));
      const b = onCpuView(randomInput([32], { seed: 3 }));
      // bias broadcast + product
      expect(countCalls(() => linear(x, w, b))).toBe(2);
      // forward 2, then dx, dW, dbias one each
      expect(countCalls(() => gradsOf((xx, ww, bb) => linear(xx, ww, bb), [x, w, b], 5))).toBe(5);
      expect(countCalls(() => matmul(x, w.transpose()))).toBe(1);
      // forward 1, dA 1, dB 1 (B's gradient sums over the batch inside one GEMM)
      expect(countCalls(() => gradsOf(matmul, [x, w.transpose()], 5))).toBe(3);
    });
  });
});

describe('errors name the op, the operands and what was expected', () => {
  it('matmul', () => {
    tidy(() => {
      const a = ref([[1, 2, 3], [4, 5, 6]]);
      expect(() => matmul(a, ref([[1, 2], [3, 4]]))).toThrow(
        /^matmul: inner dimensions differ: a \[2, 3\] has 3 columns but b \[2, 2\] has 2 rows/,
      );
      expect(() => matmul(randomInput([2, 2, 3], { dtype: 'f64' }), randomInput([3, 3, 4], { dtype: 'f64' }))).toThrow(
        'matmul: batch dims of a [2, 2, 3] and b [3, 3, 4] cannot be broadcast together ([2] vs [3])',
      );
      expect(() => matmul(a, ref([[1], [2], [3]], 'f32'))).toThrow(/^matmul: dtypes differ/);
      expect(() => matmul(ref([1]).reshape([]), a)).toThrow(/^matmul: operands need at least 1 dimension/);
      expect(() => matmul(tensor([1, 2], { device: 'reference', dtype: 'i32' }), a)).toThrow(/^matmul: expected a floating tensor/);
    });
  });

  it('linear', () => {
    tidy(() => {
      const x = ref([[1, 2, 3]]);
      expect(() => linear(x, ref([1, 2, 3]))).toThrow(/^linear: weight must have 2 dimensions \(out_features, in_features\), got/);
      expect(() => linear(x, ref([[1, 2], [3, 4]]))).toThrow(
        /^linear: x \[1, 3\] must end in in_features = 2 to match weight \[2, 2\] \(out_features, in_features\)/,
      );
      expect(() => linear(x, ref([[1, 2, 3]]), ref([1, 2]))).toThrow(/^linear: bias must have shape \[1\] \(out_features of weight \[1, 3\]\), got/);
    });
  });
});
