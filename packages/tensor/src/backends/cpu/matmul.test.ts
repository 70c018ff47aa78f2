/**
 * The native GEMM against the float64 reference and a naive loop: odd shapes around every
 * block edge, skinny shapes, row-major / transposed / strided (gathered) operands, batch
 * broadcasting, alpha and beta, bf16/f16 storage, every SIMD level and several thread counts.
 *
 * Tolerances: toleranceFor(out dtype), except f32 whose atol grows with sqrt(K) (f32
 * accumulation over K random products drifts by ~eps * sqrt(K) * |partial sums|).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { expectClose, randomInput, toleranceFor, type Tolerance } from '@lmflow/test-utils';
import type { DType, HostArray } from '../../dtype.js';
import { Tensor, emptyOn, viewOf } from '../../tensor.js';
import { getBackend } from '../../device.js';
import { tidy } from '../../memory/scope.js';
import { expandedView } from '../../ops/util.js';
import { cpuNumThreads, cpuSimdLevel, setCpuNumThreads, setCpuSimdLevel } from './index.js';

const LEVELS = ['avx512', 'avx2', 'scalar'] as const;
type Layout = 'contiguous' | 'transposed' | 'strided';
const LAYOUTS: Layout[] = ['contiguous', 'transposed', 'strided'];

const cpu = () => getBackend('cpu');
const reference = () => getBackend('reference');
const startLevel = cpuSimdLevel();
const startThreads = cpuNumThreads();
afterAll(() => {
  setCpuSimdLevel(startLevel as 'avx512');
  setCpuNumThreads(startThreads);
});

function gemmTolerance(dtype: DType, K: number): Tolerance {
  const base = toleranceFor(dtype);
  return dtype === 'f32' ? { atol: base.atol * Math.sqrt(Math.max(1, K)), rtol: base.rtol } : base;
}

/** The same storage contents and view (strides, offset) on the cpu backend. */
function onCpu(t: Tensor): Tensor {
  const base = emptyOn(cpu(), [t.storage.length], t.dtype);
  cpu().upload(base.storage, t.storage.handle as HostArray, 0);
  const view = viewOf(base, t.shape, t.strides, t.offset);
  base.dispose();
  return view;
}

/** An output filled with `value` (NaN checks that beta = 0 never reads it). */
function filled(backend: 'cpu' | 'reference', shape: number[], dtype: DType, value: number): Tensor {
  const host = emptyOn(reference(), shape, dtype);
  reference().fill(host, value);
  return backend === 'cpu' ? onCpu(host) : host;
}

interface Case {
  M: number;
  K: number;
  N: number;
  la?: Layout;
  lb?: Layout;
  dtype?: DType;
  outDtype?: DType;
  alpha?: number;
  beta?: number;
  seed?: number;
}

/** Runs one product on both backends (or cpu only); returns [cpu, reference] as flat arrays. */
function both(c: Case, withReference = true): [number[], number[]] {
  const { M, K, N, la = 'contiguous', lb = 'contiguous', dtype = 'f32', alpha = 1, beta = 0, seed = 1 } = c;
  const outDtype = c.outDtype ?? dtype;
  return tidy(() => {
    const a = randomInput([M, K], { dtype, layout: la, seed });
    const b = randomInput([K, N], { dtype, layout: lb, seed: seed + 1 });
    const start = randomInput([M, N], { dtype: outDtype, seed: seed + 2 });
    const outRef = beta === 0 ? filled('reference', [M, N], outDtype, NaN) : start.clone();
    const outCpu = beta === 0 ? filled('cpu', [M, N], outDtype, NaN) : onCpu(start);
    if (withReference) reference().matmul(a, b, outRef, { alpha, beta });
    cpu().matmul(onCpu(a), onCpu(b), outCpu, { alpha, beta });
    return [outCpu.toFlatArray(), outRef.toFlatArray()];
  });
}

/** One reference product, then the cpu one at every SIMD level against it. */
function checkAllLevels(c: Case, label: string): void {
  const [, want] = both(c);
  forEachLevel((level) => {
    const [got] = both(c, false);
    expectClose(got, want, gemmTolerance(c.outDtype ?? c.dtype ?? 'f32', c.K), `${level} ${label}`);
  });
}

function forEachLevel(fn: (level: string) => void): void {
  for (const level of LEVELS) {
    setCpuSimdLevel(level);
    try {
      fn(cpuSimdLevel());
    } finally {
      setCpuSimdLevel(startLevel as 'avx512');
    }
  }
}

describe('cpu matmul matches the reference', () => {
  it('small and skinny shapes in every layout pair, at every SIMD level', () => {
    // (M, K, N): scalars, M = 1 and N = 1 (decode-like), K = 1, tile edges, K = 0.
    const shapes = [[1, 1, 1], [3, 5, 7], [1, 17, 129], [17, 129, 3], [129, 1, 17], [13, 257, 33], [16, 64, 100], [5, 0, 7]];
    for (const [M, K, N] of shapes) {
      for (const la of LAYOUTS) {
        for (const lb of LAYOUTS) checkAllLevels({ M: M!, K: K!, N: N!, la, lb }, `${M}x${K}x${N} a ${la} b ${lb}`);
      }
    }
  });

  it('large odd shapes, threaded, at every SIMD level', () => {
    const shapes = [[129, 257, 130], [300, 520, 130]];
    const pairs: [Layout, Layout][] = [['contiguous', 'contiguous'], ['transposed', 'transposed'], ['strided', 'transposed']];
    for (const [M, K, N] of shapes) {
      for (const [la, lb] of pairs) checkAllLevels({ M: M!, K: K!, N: N!, la, lb }, `${M}x${K}x${N} a ${la} b ${lb}`);
    }
  });

  it('bf16 and f16 storage, also mixed with f32 outputs, at every SIMD level', () => {
    // K = 1000 > the 768-deep K block: bf16/f16 outputs must still round once.
    const shapes = [[33, 1000, 65], [1, 129, 70], [70, 129, 3], [20, 40, 17], [3, 40, 2100]];
    const pairs: [Layout, Layout][] = [['contiguous', 'contiguous'], ['transposed', 'transposed'], ['contiguous', 'transposed']];
    const dtypes: [DType, DType][] = [['bf16', 'bf16'], ['f16', 'f16'], ['bf16', 'f32'], ['f32', 'bf16'], ['f16', 'f32']];
    shapes.forEach(([M, K, N], i) => {
      // Every dtype pair on every shape; the layout pairs rotate over the shapes.
      for (const [dtype, outDtype] of dtypes) {
        const [la, lb] = pairs[i % pairs.length]!;
        checkAllLevels({ M: M!, K: K!, N: N!, la, lb, dtype, outDtype }, `${dtype}->${outDtype} ${M}x${K}x${N} a ${la} b ${lb}`);
      }
    });
  });

  it('alpha and beta: out = alpha * a @ b + beta * out; beta = 0 ignores NaN in out', () => {
    for (const [M, K, N] of [[2, 3, 4], [1, 40, 50], [40, 300, 50], [70, 9, 2]]) {
      for (const [alpha, beta] of [[0.5, 2], [-1, 1], [0, 3], [2, 0]]) {
        for (const dtype of ['f32', 'bf16'] as DType[]) {
          checkAllLevels({ M: M!, K: K!, N: N!, alpha, beta, dtype }, `${dtype} alpha ${alpha} beta ${beta} ${M}x${K}x${N}`);
        }
      }
    }
    const [got] = both({ M: 3, K: 4, N: 5, beta: 0 }, false);
    expect(got.every(Number.isFinite)).toBe(true);
  });

  it('batched with stride-0 broadcasting, small matrices (split over the batch) and large ones', () => {
    // Small matrices run one per thread through gemm_serial (20 x 800 x 20 in bf16: the
    // serial packed path accumulating K blocks in f32); 130 x 129 x 128 is threaded per matrix.
    const cases: [number, number, number, DType][] = [[3, 5, 7, 'f32'], [17, 9, 1, 'f32'], [20, 800, 20, 'bf16'], [130, 129, 128, 'f32']];
    forEachLevel((level) => {
      for (const [M, K, N, dtype] of cases) {
        tidy(() => {
          // a (2, 3, M, K) with its own batch; b (3, K, N) broadcast over the first dim.
          const a = randomInput([2, 3, M, K], { seed: 5, dtype });
          const b = randomInput([3, N, K], { seed: 6, layout: 'transposed', dtype }).transpose(-1, -2);
          const bRef = expandedView(b, [2, 3, K, N]);
          const outRef = emptyOn(reference(), [2, 3, M, N], dtype);
          reference().matmul(a, bRef, outRef, { alpha: 1, beta: 0 });
          const outCpu = emptyOn(cpu(), [2, 3, M, N], dtype);
          cpu().matmul(onCpu(a), expandedView(onCpu(b), [2, 3, K, N]), outCpu, { alpha: 1, beta: 0 });
          expectClose(outCpu, outRef, gemmTolerance(dtype, K), `${level} ${dtype} batched ${M}x${K}x${N}`);
        });
      }
    });
  });

  it('splits work correctly over 1, 3 and 4 threads', () => {
    // bf16 outputs with K > 768 accumulate in f32 blocks of at most 1024 x 2048 of C.
    const cases = ([
      { M: 100, K: 70, N: 90 },
      { M: 1, K: 300, N: 500 },
      { M: 300, K: 40, N: 5 },
      { M: 2, K: 50, N: 3 },
      { M: 1030, K: 800, N: 20, dtype: 'bf16' },
      { M: 17, K: 800, N: 2100, dtype: 'bf16' },
    ] as Case[]).map((c): Case => ({ ...c, lb: 'transposed' }));
    const expected = cases.map((c) => both(c)[1]);
    try {
      for (const threads of [1, 3, 4]) {
        setCpuNumThreads(threads);
        cases.forEach((c, i) => {
          const [got] = both(c, false);
          expectClose(got, expected[i]!, gemmTolerance(c.dtype ?? 'f32', c.K), `${threads} threads ${c.dtype ?? 'f32'} ${c.M}x${c.K}x${c.N}`);
        });
      }
    } finally {
      setCpuNumThreads(startThreads);
    }
  });
});

describe('cpu f32 GEMM against a naive loop at every edge path', () => {
  // Around the tiles (12 x 32 / 6 x 16 / 4 x 8), the blocks (avx512 mc 240, kc 768, nc 2048;
  // avx2 96, 512, 4096), the skinny bound (16 rows or columns) with its 16-deep K slices and
  // 2048-wide column groups, K = 0 and K = 1.
  const shapes = [
    [17, 1, 17], [25, 7, 33], [24, 256, 32], [25, 513, 65], [253, 800, 33], [17, 20, 4100], [36, 16, 64],
    [1, 33, 4100], [16, 300, 70], [5, 700, 3], [100, 33, 16], [300, 129, 7], [4200, 21, 5], [3, 41, 2100], [20, 0, 30],
  ];
  it('matches for every operand orientation at every SIMD level', () => {
    const cpuBackend = cpu();
    for (const [M, K, N] of shapes as [number, number, number][]) {
      for (const transA of [false, true]) {
        for (const transB of [false, true]) {
          const A = Float32Array.from({ length: M * K }, (_, i) => Math.sin(i * 0.37 + 1));
          const B = Float32Array.from({ length: K * N }, (_, i) => Math.cos(i * 0.11 + 2));
          const at = (m: number, k: number) => A[transA ? k * M + m : m * K + k]!;
          const bt = (k: number, n: number) => B[transB ? n * K + k : k * N + n]!;
          const want = new Float64Array(M * N);
          for (let m = 0; m < M; m++) {
            for (let n = 0; n < N; n++) {
              let s = 0;
              for (let k = 0; k < K; k++) s += at(m, k) * bt(k, n);
              want[m * N + n] = 0.5 * s - 1; // alpha 0.5, beta 1 on an out of -1s
            }
          }
          forEachLevel((level) => {
            tidy(() => {
              const a = emptyOn(cpuBackend, [A.length], 'f32');
              const b = emptyOn(cpuBackend, [B.length], 'f32');
              cpuBackend.upload(a.storage, A, 0);
              cpuBackend.upload(b.storage, B, 0);
              const av = viewOf(a, [M, K], transA ? [1, M] : [K, 1], 0);
              const bv = viewOf(b, [K, N], transB ? [1, K] : [N, 1], 0);
              const out = emptyOn(cpuBackend, [M, N], 'f32');
              cpuBackend.upload(out.storage, new Float32Array(M * N).fill(-1), 0);
              cpuBackend.matmul(av, bv, out, { alpha: 0.5, beta: 1 });
              expectClose(out, want, gemmTolerance('f32', K), `${level} ${M}x${K}x${N} transA ${transA} transB ${transB}`);
            });
          });
        }
      }
    }
  });
});

describe('cpu matmul errors', () => {
  it('rejects f64 and integer operands, naming the operand', () => {
    tidy(() => {
      const a = onCpu(randomInput([2, 3], { dtype: 'f64' }));
      const b = onCpu(randomInput([3, 2], { dtype: 'f64' }));
      const out = emptyOn(cpu(), [2, 2], 'f32');
      expect(() => cpu().matmul(a, b, out, { alpha: 1, beta: 0 })).toThrow(/matmul: a is f64; the cpu backend computes in f32/);
      const i = emptyOn(cpu(), [3, 2], 'i32');
      const af = onCpu(randomInput([2, 3]));
      expect(() => cpu().matmul(af, i, out, { alpha: 1, beta: 0 })).toThrow(/matmul: b must be f32, bf16 or f16, got i32/);
    });
  });

  it('rejects mismatched shapes naming all three', () => {
    tidy(() => {
      const a = onCpu(randomInput([2, 3]));
      const b = onCpu(randomInput([4, 2]));
      const out = emptyOn(cpu(), [2, 2], 'f32');
      expect(() => cpu().matmul(a, b, out, { alpha: 1, beta: 0 })).toThrow(
        'matmul: expected a (..., M, K), b (..., K, N), out (..., M, N) with equal batch dims, got a [2, 3], b [4, 2], out [2, 2]',
      );
      const out3 = emptyOn(cpu(), [1, 2, 2], 'f32');
      expect(() => cpu().matmul(a, onCpu(randomInput([3, 2])), out3, { alpha: 1, beta: 0 })).toThrow(/same rank/);
    });
  });
});
