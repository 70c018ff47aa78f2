/**
 * NF4 (QLoRA) weights: quantize a frozen weight to 4 bits, use it in a linear layer without
 * ever materialising it in full precision, dequantize it back.
 *
 * An Nf4Tensor is a plain object holding its parts as tensors, so tidy() treats it like a
 * tensor: disposed at the end of the scope unless returned. The frozen weight takes no
 * gradient; nf4Linear differentiates with respect to its input and bias only.
 */
import { Tensor, emptyOn, viewOf } from '../tensor.js';
import type { Nf4Weight, View } from '../backend.js';
import type { DType } from '../dtype.js';
import { contiguousStrides, formatShape, numel } from '../shape.js';
import { record } from '../autograd/node.js';
import { NF4_BLOCK_SIZE, nf4PartLengths } from '../quant/nf4-format.js';
import { contiguousData, requireDType, requireFloat, requireRank, sameDevice, sameDType } from './util.js';

export interface Nf4Tensor {
  /** (N, K) of the original weight. */
  readonly shape: readonly [number, number];
  /** dtype of the original weight: what dequantizeNf4 returns by default. */
  readonly dtype: DType;
  readonly device: string;
  /** u8 (N*K/2): two 4-bit codes per byte, element 2i in the high nibble. */
  readonly codes: Tensor;
  /** u8 (N*K/64): 8-bit codes of the per-block absmax values. */
  readonly absmaxCodes: Tensor;
  /** f32 (ceil(N*K/64/256)): scale of each group of 256 absmax codes. */
  readonly absmaxScales: Tensor;
  /** Mean of the absmax values, subtracted before their 8-bit quantization. */
  readonly absmaxOffset: number;
  readonly isDisposed: boolean;
  /** Frees the parts. Idempotent. */
  dispose(): void;
}

export interface Nf4TensorParts {
  shape: readonly [number, number];
  dtype: DType;
  codes: Tensor;
  absmaxCodes: Tensor;
  absmaxScales: Tensor;
  absmaxOffset: number;
}

/**
 * An Nf4Tensor over existing parts (e.g. read from a checkpoint), after checking their dtypes
 * and lengths against the shape. The Nf4Tensor takes ownership: its dispose() frees them.
 */
export function nf4TensorFromParts(parts: Nf4TensorParts): Nf4Tensor {
  const op = 'nf4TensorFromParts';
  const { shape, dtype, codes, absmaxCodes, absmaxScales, absmaxOffset } = parts;
  const [n, k] = shape;
  if (shape.length !== 2 || !Number.isInteger(n) || !Number.isInteger(k) || n <= 0 || k <= 0 || (n * k) % NF4_BLOCK_SIZE !== 0) {
    throw new Error(`${op}: shape ${formatShape(shape)} must be (N, K) with N * K a positive multiple of ${NF4_BLOCK_SIZE}`);
  }
  sameDevice(op, codes, absmaxCodes, absmaxScales);
  const lengths = nf4PartLengths(n * k);
  const expect: [Tensor, string, DType, number][] = [
    [codes, 'codes', 'u8', lengths.codes],
    [absmaxCodes, 'absmaxCodes', 'u8', lengths.absmaxCodes],
    [absmaxScales, 'absmaxScales', 'f32', lengths.absmaxScales],
  ];
  for (const [t, role, want, length] of expect) {
    requireDType(op, t, [want], role);
    if (t.ndim !== 1 || t.size !== length || !t.isContiguous()) {
      throw new Error(`${op}: ${role} of an NF4 weight of shape ${formatShape(shape)} must be a contiguous 1-D ${want} tensor of ${length} elements, got ${t.describe()}`);
    }
  }
  if (!Number.isFinite(absmaxOffset)) throw new Error(`${op}: absmaxOffset must be a finite number, got ${absmaxOffset}`);
  let disposed = false;
  return {
    shape: [n, k],
    dtype,
    device: codes.device,
    codes,
    absmaxCodes,
    absmaxScales,
    absmaxOffset,
    get isDisposed() {
      return disposed;
    },
    dispose() {
      disposed = true;
      codes.dispose();
      absmaxCodes.dispose();
      absmaxScales.dispose();
    },
  };
}

/**
 * Quantizes a 2-D weight (N, K) to NF4: per block of 64 consecutive elements (row-major) the
 * absmax, each element the nearest of the 16 NF4 values times that absmax (ties take the
 * lower value), and the absmax values double-quantized to 8 bits (see Nf4Weight in backend.ts).
 * Not recorded: the result is a frozen weight.
 */
export function quantizeNf4(w: Tensor): Nf4Tensor {
  const op = 'quantizeNf4';
  w.assertLive(op);
  requireFloat(op, w);
  requireRank(op, w, 2, 'weight', '(N, K)');
  if (w.size === 0 || w.size % NF4_BLOCK_SIZE !== 0) {
    throw new Error(`${op}: the number of elements of ${w.describe()} must be a positive multiple of ${NF4_BLOCK_SIZE} (the NF4 block size), got ${w.size}`);
  }
  const lengths = nf4PartLengths(w.size);
  const codes = emptyOn(w.backend, [lengths.codes], 'u8');
  const absmaxCodes = emptyOn(w.backend, [lengths.absmaxCodes], 'u8');
  const absmaxScales = emptyOn(w.backend, [lengths.absmaxScales], 'f32');
  const source = contiguousData(w);
  let absmaxOffset: number;
  try {
    absmaxOffset = w.backend.nf4Quantize(source, { codes, absmaxCodes, absmaxScales, absmaxOffset: 0 });
  } catch (error) {
    codes.dispose();
    absmaxCodes.dispose();
    absmaxScales.dispose();
    throw error;
  } finally {
    if (source !== w) source.dispose();
  }
  return nf4TensorFromParts({ shape: [w.shape[0]!, w.shape[1]!], dtype: w.dtype, codes, absmaxCodes, absmaxScales, absmaxOffset });
}

function weightOf(q: Nf4Tensor, op: string): Nf4Weight {
  if (q.isDisposed) throw new Error(`${op}: the NF4 weight ${formatShape(q.shape)} was disposed and cannot be used`);
  return { codes: q.codes, absmaxCodes: q.absmaxCodes, absmaxScales: q.absmaxScales, absmaxOffset: q.absmaxOffset };
}

/** The weight back in full precision (default: the dtype it was quantized from). Not recorded. */
export function dequantizeNf4(q: Nf4Tensor, dtype: DType = q.dtype): Tensor {
  const op = 'dequantizeNf4';
  const weight = weightOf(q, op);
  if (!['f32', 'bf16', 'f16', 'f64'].includes(dtype)) {
    throw new Error(`${op}: dtype must be f32, bf16 or f16 (f64 on the reference backend), got "${dtype}"`);
  }
  const out = emptyOn(q.codes.backend, q.shape, dtype);
  q.codes.backend.nf4Dequantize(weight, out);
  return out;
}

/**
 * y = x @ W^T + bias with W an NF4 weight (N, K), computed without a full-precision copy of W.
 * x: (..., K) floating; bias: (N) of x's dtype, optional; y: (..., N) of x's dtype.
 * Gradients flow to x (dY @ W, again straight from NF4) and bias, never to the frozen W.
 */
export function nf4Linear(x: Tensor, q: Nf4Tensor, bias?: Tensor | null): Tensor {
  const op = 'nf4Linear';
  const weight = weightOf(q, op);
  const inputs = bias ? [x, bias] : [x];
  const backend = sameDevice(op, ...inputs, q.codes);
  requireFloat(op, x);
  const [N, K] = q.shape;
  if (x.ndim < 1 || x.shape[x.ndim - 1] !== K) {
    throw new Error(`${op}: x must have shape (..., ${K}) to multiply an NF4 weight of shape ${formatShape(q.shape)}, got ${x.describe()}`);
  }
  if (bias) {
    sameDType(op, x, bias);
    if (bias.ndim !== 1 || bias.shape[0] !== N) {
      throw new Error(`${op}: bias must have shape [${N}] (the weight's output features, weight ${formatShape(q.shape)}), got ${bias.describe()}`);
    }
  }
  // x2: (M, K)  M = product of x's leading dims;  y: (..., N) seen as (M, N)
  const M = numel(x.shape.slice(0, -1));
  const outShape = [...x.shape.slice(0, -1), N];
  const x2 = contiguousData(x);
  const y = emptyOn(backend, outShape, x.dtype);
  try {
    // y starts as the bias broadcast over rows; the matmul then accumulates onto it (beta 1).
    if (bias) backend.copy(rowBroadcast(bias, outShape), y);
    backend.nf4Matmul(matrixView(x2, M, K), weight, matrixView(y, M, N), { alpha: 1, beta: bias ? 1 : 0, transposeW: true });
  } catch (error) {
    y.dispose();
    throw error;
  } finally {
    if (x2 !== x) x2.dispose();
  }
  const xShape = x.shape;
  const { absmaxOffset } = weight;
  return record(op, inputs, y, [q.codes, q.absmaxCodes, q.absmaxScales], (g, saved, needs) => {
    const [codes, absmaxCodes, absmaxScales] = saved as [Tensor, Tensor, Tensor];
    // Runs inside the engine's tidy scope: temporaries here are freed after it.
    const g2 = contiguousData(g);
    let dx: Tensor | null = null;
    if (needs[0]) {
      // dX (M, K) = dY (M, N) @ W (N, K)
      dx = emptyOn(g.backend, xShape, g.dtype);
      g.backend.nf4Matmul(matrixView(g2, M, N), { codes, absmaxCodes, absmaxScales, absmaxOffset }, matrixView(dx, M, K), {
        alpha: 1,
        beta: 0,
        transposeW: false,
      });
    }
    if (!bias) return [dx];
    let dbias: Tensor | null = null;
    if (needs[1]) {
      // dBias (N) = sum of dY over its M rows.
      const summed = emptyOn(g.backend, [1, N], g.dtype);
      g.backend.reduce('sum', matrixView(g2, M, N), [0], summed);
      dbias = viewOf(summed, [N], [1], 0);
    }
    return [dx, dbias];
  });
}

// bias (N) repeated over the leading dims of shape (..., N): a stride-0 kernel view.
function rowBroadcast(bias: Tensor, shape: readonly number[]): View {
  const strides = shape.map((_, i) => (i === shape.length - 1 ? bias.strides[0]! : 0));
  return { storage: bias.storage, dtype: bias.dtype, shape: [...shape], strides, offset: bias.offset };
}

// A 2-D (rows, cols) kernel view of a contiguous tensor; a plain View, so nothing to dispose.
function matrixView(t: Tensor, rows: number, cols: number): View {
  return { storage: t.storage, dtype: t.dtype, shape: [rows, cols], strides: contiguousStrides([rows, cols]), offset: t.offset };
}

/** Stored bits per weight element: codes, absmax codes, scales and the offset (~4.127 for large weights). */
export function nf4BitsPerWeight(q: Nf4Tensor): number {
  const elements = q.shape[0] * q.shape[1];
  const bits = q.codes.size * 8 + q.absmaxCodes.size * 8 + q.absmaxScales.size * 32 + 32;
  return bits / elements;
}
