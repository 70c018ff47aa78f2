/**
 * Pure planning for the CUDA kernels, kept apart from the device so it is tested on any
 * machine: coalescing dimensions of elementwise operands, splitting a reduction into kept and
 * reduced dimensions, and mapping a row-major batched product onto cuBLAS's column-major GEMM.
 */
import type { View } from '../../backend.js';
import type { KernelView } from './args.js';
import { kernelView } from './args.js';

/**
 * Views of one shape with size-1 dimensions dropped and adjacent dimensions merged wherever
 * every view allows it (stride[d] === stride[d + 1] * shape[d + 1]), so a contiguous operand
 * becomes one dimension. The linear (row-major) order of elements is unchanged.
 */
export function coalesce(shape: readonly number[], strides: readonly (readonly number[])[]): { shape: number[]; strides: number[][] } {
  const dims: number[] = [];
  for (let d = 0; d < shape.length; d++) if (shape[d] !== 1) dims.push(d);
  const outShape: number[] = [];
  const outStrides: number[][] = strides.map(() => []);
  for (const d of dims) {
    const last = outShape.length - 1;
    const mergeable = last >= 0 && strides.every((s, v) => outStrides[v]![last] === s[d]! * shape[d]!);
    if (mergeable) {
      outShape[last] = outShape[last]! * shape[d]!;
      strides.forEach((s, v) => (outStrides[v]![last] = s[d]!));
    } else {
      outShape.push(shape[d]!);
      strides.forEach((s, v) => outStrides[v]!.push(s[d]!));
    }
  }
  if (outShape.length === 0) return { shape: [1], strides: strides.map(() => [1]) };
  return { shape: outShape, strides: outStrides };
}

/** Same-shape views (out first or last, any order) coalesced together. */
export function coalesceViews(views: readonly View[]): KernelView[] {
  const shape = views[0]!.shape;
  for (const v of views) {
    if (v.shape.length !== shape.length || v.shape.some((d, i) => d !== shape[i])) {
      throw new Error(`cuda: operands of one elementwise kernel must share a shape, got [${shape.join(', ')}] and [${v.shape.join(', ')}]`);
    }
  }
  const c = coalesce(shape, views.map((v) => v.strides));
  return views.map((v, i) => ({ ...kernelView(v), shape: c.shape, strides: c.strides[i]! }));
}

/** x split into its kept dimensions (offset included) and its reduced ones (offset 0). */
export function reducePlan(x: View, axes: readonly number[]): { kept: KernelView; reduced: KernelView } {
  const base = kernelView(x);
  const keptDims = x.shape.map((_, d) => d).filter((d) => !axes.includes(d));
  const pick = (dims: number[]) => coalesce(dims.map((d) => x.shape[d]!), [dims.map((d) => x.strides[d]!)]);
  const k = pick(keptDims);
  const r = pick([...axes]);
  return {
    kept: { ...base, shape: k.shape, strides: k.strides[0]! },
    reduced: { ...base, offset: 0, shape: r.shape, strides: r.strides[0]! },
  };
}

/** x without `axis` (the outputs of argmax, row-major) and the axis's length and stride. */
export function argmaxPlan(x: View, axis: number): { kept: KernelView; length: number; stride: number } {
  const dims = x.shape.map((_, d) => d).filter((d) => d !== axis);
  const c = coalesce(dims.map((d) => x.shape[d]!), [dims.map((d) => x.strides[d]!)]);
  return { kept: { ...kernelView(x), shape: c.shape, strides: c.strides[0]! }, length: x.shape[axis]!, stride: x.strides[axis]! };
}

/** How one matrix operand is laid out, for cuBLAS: transposed or not, and its leading dimension. */
export interface MatrixLayout {
  /** true: stored column-major (the stride of the last dim is not 1). */
  transposed: boolean;
  ld: number;
}

/**
 * The layout of a (rows, cols) matrix with the given strides, or null when it is neither
 * row-major nor column-major (the caller copies it). Size-1 dimensions take any stride.
 */
export function matrixLayout(rows: number, cols: number, rowStride: number, colStride: number): MatrixLayout | null {
  if (cols === 1 || colStride === 1) {
    const ld = rows === 1 ? Math.max(1, cols) : rowStride;
    if (ld >= Math.max(1, cols)) return { transposed: false, ld };
  }
  if (rows === 1 || rowStride === 1) {
    const ld = cols === 1 ? Math.max(1, rows) : colStride;
    if (ld >= Math.max(1, rows)) return { transposed: true, ld };
  }
  return null;
}

export interface GemmLevel {
  size: number;
  strideA: number;
  strideB: number;
  strideC: number;
}

/** The arguments of native-cuda/matmul.cu's k_matmul, in our row-major names. */
export interface GemmPlan {
  M: number;
  N: number;
  K: number;
  /** cuBLAS's A is our b (out^T = b^T a^T). */
  transA: boolean;
  lda: number;
  /** cuBLAS's B is our a. */
  transB: boolean;
  ldb: number;
  ldc: number;
  /** Batch loop levels, outermost first; the last runs as one strided-batched call. */
  levels: GemmLevel[];
}

/**
 * Plans out (..., M, N) = a (..., M, K) @ b (..., K, N) for cuBLAS, or says which operand must
 * first be copied to a contiguous layout ('a' or 'b').
 */
export function gemmPlan(a: View, b: View, out: View): GemmPlan | 'copy-a' | 'copy-b' {
  const r = out.shape.length;
  const M = out.shape[r - 2]!;
  const N = out.shape[r - 1]!;
  const K = a.shape[r - 1]!;
  const la = matrixLayout(M, K, a.strides[r - 2]!, a.strides[r - 1]!);
  if (!la) return 'copy-a';
  const lb = matrixLayout(K, N, b.strides[r - 2]!, b.strides[r - 1]!);
  if (!lb) return 'copy-b';
  const batchShape = out.shape.slice(0, r - 2);
  const c = coalesce(batchShape, [a.strides.slice(0, r - 2), b.strides.slice(0, r - 2), out.strides.slice(0, r - 2)]);
  const levels = batchShape.length === 0 || c.shape.length === 0
    ? [{ size: 1, strideA: 0, strideB: 0, strideC: 0 }]
    : c.shape.map((size, i) => ({ size, strideA: c.strides[0]![i]!, strideB: c.strides[1]![i]!, strideC: c.strides[2]![i]! }));
  // A batch of one whose coalesced shape is [1] keeps strides 1 from coalesce(); they are unused.
  return { M, N, K, transA: lb.transposed, lda: lb.ld, transB: la.transposed, ldb: la.ld, ldc: N, levels };
}
