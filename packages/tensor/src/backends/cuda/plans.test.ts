import { describe, expect, it } from 'vitest';
/**
 * The CUDA backend's pure planning, on any machine: dimension coalescing, reduction splits
 * and the mapping of row-major batched products onto cuBLAS's column-major GEMM. The GEMM
 * plans are checked by executing them with a tiny column-major GEMM in TypeScript (the
 * semantics of cublasGemmStridedBatchedEx) and comparing with a direct row-major product.
 */
import type { Storage, View } from '../../backend.js';
import { contiguousStrides } from '../../shape.js';
import { coalesce, gemmPlan, matrixLayout, reducePlan, argmaxPlan, type GemmPlan } from './plans.js';

function view(shape: number[], strides = contiguousStrides(shape), offset = 0, ptr = 4096): View {
  const storage = { backend: null, dtype: 'f32', length: 0, handle: { ptr, bytes: 0 } } as unknown as Storage;
  return { storage, dtype: 'f32', shape, strides, offset };
}

describe('coalesce', () => {
  it('merges a contiguous tensor into one dimension and drops size-1 dimensions', () => {
    expect(coalesce([2, 3, 4], [[12, 4, 1]])).toEqual({ shape: [24], strides: [[1]] });
    expect(coalesce([2, 1, 4], [[4, 99, 1]])).toEqual({ shape: [8], strides: [[1]] });
    expect(coalesce([], [[]])).toEqual({ shape: [1], strides: [[1]] });
  });

  it('keeps dimensions apart where any operand breaks contiguity (transposed, broadcast)', () => {
    // a contiguous, b broadcast along dim 0: the two dims cannot merge.
    expect(coalesce([3, 5], [[5, 1], [0, 1]])).toEqual({ shape: [3, 5], strides: [[5, 1], [0, 1]] });
    // Both broadcast along dim 0 and contiguous along dims 1, 2: dims 1 and 2 merge.
    expect(coalesce([3, 4, 5], [[0, 5, 1], [20, 5, 1]])).toEqual({ shape: [3, 20], strides: [[0, 1], [20, 1]] });
    // A transposed operand: nothing merges.
    expect(coalesce([4, 6], [[1, 4], [6, 1]])).toEqual({ shape: [4, 6], strides: [[1, 4], [6, 1]] });
  });

  it('preserves the row-major element order of every operand (exhaustive check on random layouts)', () => {
    let seed = 7;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % n);
    for (let trial = 0; trial < 200; trial++) {
      const ndim = 1 + rand(4);
      const shape = Array.from({ length: ndim }, () => 1 + rand(4));
      // Each operand: a permuted contiguous layout, or with some dims broadcast.
      const operands = [0, 1].map(() => {
        const order = shape.map((_, i) => i).sort(() => rand(3) - 1);
        const strides = new Array<number>(ndim).fill(0);
        let s = 1;
        for (const d of [...order].reverse()) {
          strides[d] = rand(4) === 0 ? 0 : s;
          s *= shape[d]!;
        }
        return strides;
      });
      const c = coalesce(shape, operands);
      const offsetsOf = (sh: readonly number[], st: readonly number[]) => {
        const out: number[] = [];
        const n = sh.reduce((a, b) => a * b, 1);
        for (let i = 0; i < n; i++) {
          let rest = i;
          let o = 0;
          for (let d = sh.length - 1; d >= 0; d--) {
            o += (rest % sh[d]!) * st[d]!;
            rest = Math.floor(rest / sh[d]!);
          }
          out.push(o);
        }
        return out;
      };
      operands.forEach((st, v) => expect(offsetsOf(c.shape, c.strides[v]!), `shape [${shape}] strides [${st}]`).toEqual(offsetsOf(shape, st)));
    }
  });
});

describe('reduction plans', () => {
  it('splits x into kept dimensions (with its offset) and reduced ones (offset 0)', () => {
    const x = view([2, 3, 4], [12, 4, 1], 5);
    const { kept, reduced } = reducePlan(x, [1]);
    expect(kept).toMatchObject({ shape: [2, 4], strides: [12, 1], offset: 5, ptr: 4096 });
    expect(reduced).toMatchObject({ shape: [3], strides: [4], offset: 0 });
    const all = reducePlan(x, [0, 1, 2]);
    expect(all.kept).toMatchObject({ shape: [1], strides: [1] });
    expect(all.reduced).toMatchObject({ shape: [24], strides: [1] });
  });

  it('argmax walks the axis with its stride', () => {
    const plan = argmaxPlan(view([5, 7], [1, 5]), 1);
    expect(plan).toMatchObject({ length: 7, stride: 5, kept: { shape: [5], strides: [1] } });
  });
});

describe('cuBLAS GEMM plans', () => {
  it('matrix layouts: row-major, column-major, or neither', () => {
    expect(matrixLayout(3, 4, 4, 1)).toEqual({ transposed: false, ld: 4 });
    expect(matrixLayout(3, 4, 1, 3)).toEqual({ transposed: true, ld: 3 });
    expect(matrixLayout(3, 4, 8, 1)).toEqual({ transposed: false, ld: 8 }); // a slice of a wider matrix
    expect(matrixLayout(3, 4, 8, 2)).toBeNull(); // every other column: must be copied
    expect(matrixLayout(1, 4, 0, 1)).toEqual({ transposed: false, ld: 4 }); // one row: any row stride
  });

  // Runs a plan the way cublasGemmStridedBatchedEx does (column-major, cuBLAS A = our b).
  function executePlan(plan: GemmPlan, a: Float64Array, b: Float64Array, c: Float64Array, alpha: number, beta: number): void {
    const { M, N, K } = plan;
    const total = plan.levels.reduce((n, l) => n * l.size, 1);
    for (let i = 0; i < total; i++) {
      let rest = i;
      let oa = 0, ob = 0, oc = 0;
      for (let l = plan.levels.length - 1; l >= 0; l--) {
        const lv = plan.levels[l]!;
        const j = rest % lv.size;
        rest = Math.floor(rest / lv.size);
        oa += j * lv.strideA;
        ob += j * lv.strideB;
        oc += j * lv.strideC;
      }
      // C (N x M, col-major, ldc) = opA(b) (N x K) * opB(a) (K x M)
      const A = (r: number, k: number) => (plan.transA ? b[ob + k + r * plan.lda]! : b[ob + r + k * plan.lda]!);
      const B = (k: number, col: number) => (plan.transB ? a[oa + col + k * plan.ldb]! : a[oa + k + col * plan.ldb]!);
      for (let col = 0; col < M; col++) {
        for (let r = 0; r < N; r++) {
          let s = 0;
          for (let k = 0; k < K; k++) s += A(r, k) * B(k, col);
          const at = oc + r + col * plan.ldc;
          c[at] = alpha * s + (beta === 0 ? 0 : beta * c[at]!);
        }
      }
    }
  }

  function stridedValues(shape: number[], strides: number[], size: number, seed: number): { data: Float64Array; at: (idx: number[]) => number } {
    const data = new Float64Array(size).map((_, i) => Math.sin(seed * 31 + i * 1.7));
    return { data, at: (idx) => data[idx.reduce((o, v, d) => o + v * strides[d]!, 0)]! };
  }

  const cases: { name: string; a: [number[], number[]]; b: [number[], number[]]; out: number[] }[] = [
    { name: 'plain 2-D', a: [[3, 5], [5, 1]], b: [[5, 4], [4, 1]], out: [3, 4] },
    { name: 'a transposed', a: [[3, 5], [1, 3]], b: [[5, 4], [4, 1]], out: [3, 4] },
    { name: 'b transposed (a linear layer: x @ W^T)', a: [[3, 5], [5, 1]], b: [[5, 4], [1, 5]], out: [3, 4] },
    { name: 'batched, b broadcast (stride 0)', a: [[2, 3, 5], [15, 5, 1]], b: [[2, 5, 4], [0, 4, 1]], out: [2, 3, 4] },
    { name: 'two batch dims that do not merge', a: [[2, 3, 3, 5], [15, 30, 5, 1]], b: [[2, 3, 5, 4], [20, 0, 4, 1]], out: [2, 3, 3, 4] },
    { name: 'a slice with a wide leading stride', a: [[3, 5], [9, 1]], b: [[5, 1], [1, 1]], out: [3, 1] },
    { name: 'one row', a: [[1, 5], [0, 1]], b: [[5, 4], [1, 5]], out: [1, 4] },
  ];

  for (const { name, a, b, out } of cases) {
    it(`${name}: the plan computes a @ b`, () => {
      const av = view(a[0], a[1]);
      const bv = view(b[0], b[1]);
      const ov = view(out);
      const plan = gemmPlan(av, bv, ov);
      expect(typeof plan).toBe('object');
      const p = plan as GemmPlan;
      const span = (shape: number[], strides: number[]) => 1 + shape.reduce((s, d, i) => s + (d - 1) * strides[i]!, 0);
      const A = stridedValues(a[0], a[1], span(a[0], a[1]), 1);
      const B = stridedValues(b[0], b[1], span(b[0], b[1]), 2);
      const total = out.reduce((x, y) => x * y, 1);
      const c = new Float64Array(total).fill(0.5);
      executePlan(p, A.data, B.data, c, 2, 1);
      const r = out.length;
      const [M, N, K] = [out[r - 2]!, out[r - 1]!, a[0][r - 1]!];
      const strides = contiguousStrides(out);
      for (let i = 0; i < total; i++) {
        const idx = strides.map((s, d) => Math.floor(i / s) % out[d]!);
        let s = 0;
        for (let k = 0; k < K; k++) {
          s += A.at([...idx.slice(0, r - 2), idx[r - 2]!, k]) * B.at([...idx.slice(0, r - 2), k, idx[r - 1]!]);
        }
        expect(c[i]).toBeCloseTo(2 * s + 0.5, 12);
      }
      expect(M * N).toBeGreaterThan(0);
    });
  }

  it('asks for a copy when an operand is neither row- nor column-major', () => {
    expect(gemmPlan(view([3, 5], [10, 2]), view([5, 4]), view([3, 4]))).toBe('copy-a');
    expect(gemmPlan(view([3, 5]), view([5, 4], [8, 2]), view([3, 4]))).toBe('copy-b');
  });
});
