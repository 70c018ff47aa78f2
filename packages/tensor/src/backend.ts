/**
 * The contract between tensors and compute backends.
 *
 * A backend owns memory on one device and runs kernels on it. It knows nothing of autograd,
 * dtype promotion or broadcasting rules: the op layer (src/ops) checks arguments, allocates
 * outputs, expands broadcast inputs into stride-0 views, and records the tape. Every kernel
 * therefore receives fully resolved views and writes into outputs the op layer allocated.
 *
 * Execution may be asynchronous (a CUDA backend queues kernels on a stream): a kernel call
 * only has to be ordered after earlier calls on the same backend. Host reads go through
 * `download`, which waits for pending work; `sync` is the explicit barrier.
 *
 * Conventions for every kernel below:
 * - Views carry shape, strides and offset in elements. "Any strides" means the kernel must
 *   honour arbitrary strides, including 0 (broadcast) and negative-free permutations.
 *   "Contiguous" means the op layer guarantees row-major without gaps.
 * - Outputs are contiguous unless stated, never alias inputs unless stated.
 * - Floating kernels accept f32, bf16 and f16 and compute in at least f32 (the reference
 *   backend in float64), rounding once when storing.
 */
import type { DType, HostArray } from './dtype.js';
import type { Shape } from './shape.js';

/** A block of device memory holding `length` elements of `dtype`. */
export interface Storage {
  readonly backend: Backend;
  readonly dtype: DType;
  readonly length: number;
  /** Backend-specific: the HostArray itself for host backends, a device pointer for CUDA. */
  readonly handle: unknown;
}

/** What kernels see of a tensor: its storage and the strided window into it. */
export interface View {
  readonly storage: Storage;
  readonly dtype: DType;
  readonly shape: Shape;
  readonly strides: readonly number[];
  readonly offset: number;
}

export type UnaryOp =
  | 'neg' | 'abs' | 'exp' | 'log' | 'sqrt' | 'rsqrt' | 'square' | 'reciprocal'
  | 'sin' | 'cos' | 'tanh' | 'sigmoid' | 'relu' | 'silu'
  /** gelu with the exact erf, as torch's default */
  | 'gelu'
  /** gelu with the tanh approximation (GPT-2's gelu_new) */
  | 'gelu_tanh';

export type BinaryOp = 'add' | 'sub' | 'mul' | 'div' | 'maximum' | 'minimum' | 'pow';
export type CompareOp = 'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge';
/** x op s, except rsub: s - x and rdiv: s / x. */
export type ScalarOp = 'add' | 'mul' | 'pow' | 'maximum' | 'minimum' | 'rsub' | 'rdiv';
export type ReduceOp = 'sum' | 'max' | 'min';

export interface MatmulOptions {
  /** out = alpha * a @ b + beta * out. beta = 0 ignores the old contents of out (even NaN). */
  alpha: number;
  beta: number;
}

export interface AttentionOptions {
  /** Multiplies q.k before softmax; usually 1/sqrt(head_dim). */
  scale: number;
  /** Query t (of T) sees key s (of S) only when s <= t + (S - T). */
  causal: boolean;
  /**
   * Optional segment ids (i32): query t of batch b sees key s only when
   * qSegments[b, t] === kSegments[b, s]. Packing resets attention at sample borders this way;
   * padding uses a segment no query has (e.g. -1).
   */
  qSegments?: View | null;
  kSegments?: View | null;
}

export interface RopeOptions {
  /** false: Hugging Face rotate_half (pairs i, i + D/2); true: interleaved (pairs 2i, 2i + 1). */
  interleaved: boolean;
  /** Rotate by -angle (the backward of rope is rope with inverse = true). */
  inverse: boolean;
  /** Multiplies cos and sin (YaRN's attention factor); 1 otherwise. */
  scale: number;
}

export interface CrossEntropyOptions {
  /** Targets equal to this contribute no loss and no gradient (-100 in PyTorch and LMFlow). */
  ignoreIndex: number;
  /** Label smoothing epsilon in [0, 1); 0 disables. */
  labelSmoothing: number;
}

export interface AdamWOptions {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** Decoupled: param -= lr * weightDecay * param, before the Adam update. */
  weightDecay: number;
  /** 1-based step count after this update, for bias correction. */
  step: number;
}

/** Device memory: allocation, transfers and the sync point. */
export interface MemoryOps {
  /** Contents are unspecified (a caching allocator may return used memory). */
  allocate(dtype: DType, length: number): Storage;
  release(storage: Storage): void;
  /**
   * Host backends only: a storage over the caller's array, without copying (model weights
   * read from a file). The array is never returned to the allocator; the caller must not
   * change it while tensors use it. Device backends leave this out (callers then upload).
   */
  wrapHost?(dtype: DType, data: HostArray): Storage;
  /** Copies host data into storage elements [offset, offset + data.length). */
  upload(storage: Storage, data: HostArray, offset: number): void;
  /** A contiguous host copy of the view, after all queued work on this backend. */
  download(view: View): Promise<HostArray>;
  downloadSync(view: View): HostArray;
  /** Resolves when every kernel queued so far has finished. */
  sync(): Promise<void>;
}

export interface LayoutOps {
  /** out (any strides) = value, rounded to out's dtype. */
  fill(out: View, value: number): void;
  /** out = src, both any strides, same shape; converts dtype (float to int truncates toward zero). */
  copy(src: View, out: View): void;
  /**
   * Counter-based random numbers: element i of the contiguous out uses counter offset + i
   * (normal: counters offset + 2i and offset + 2i + 1) under `seed`, so every backend produces the same values (see src/random.ts for the
   * generator both must implement).
   * uniform: [a, b); normal: mean a, std b; bernoulli: 1 with probability a, else 0.
   */
  random(out: View, kind: 'uniform' | 'normal' | 'bernoulli', a: number, b: number, seed: number, offset: number): void;
  /**
   * Optional fusion: out = x * bernoulli(1 - p) / (1 - p) with the mask random() would draw for
   * out (p in [0, 1)), equal bit for bit to random + binary mul + scalar mul. Backends without
   * it get that composition.
   */
  dropout?(x: View, out: View, p: number, seed: number, offset: number): void;
}

export interface ElementwiseOps {
  /** out = op(x); x any strides, out any strides, same shape. */
  unary(op: UnaryOp, x: View, out: View): void;
  /** out = dy * op'(x) (for sqrt/rsqrt/exp/... computed from x); all same shape, any strides. */
  unaryGrad(op: UnaryOp, x: View, dy: View, out: View): void;
  /** out = a op b; a and b already broadcast to out's shape (stride-0 views), any strides. */
  binary(op: BinaryOp, a: View, b: View, out: View): void;
  /** out (u8) = a op b ? 1 : 0; as binary. */
  compare(op: CompareOp, a: View, b: View, out: View): void;
  /** out = x op s (see ScalarOp); any strides. */
  scalar(op: ScalarOp, x: View, s: number, out: View): void;
  /** out = cond ? a : b; cond u8; all broadcast to out's shape. */
  where(cond: View, a: View, b: View, out: View): void;
  /**
   * Reduces x (any strides) over `axes` (sorted, unique) into out, which has x's shape with
   * those axes set to 1 (contiguous). Floating sums accumulate in at least f32 with
   * pairwise or blocked summation; integer sums in the integer type.
   */
  reduce(op: ReduceOp, x: View, axes: readonly number[], out: View): void;
  /** out (i32 or i64, x's shape with axis set to 1) = index of the first maximum along axis. */
  argmax(x: View, axis: number, out: View): void;
}

export interface MatmulOps {
  /**
   * out = alpha * a @ b + beta * out.
   * a: (..., M, K), b: (..., K, N), out: (..., M, N) contiguous; all three have the same rank
   * and a, b are already broadcast over the batch dims (stride-0 views allowed).
   * Within each matrix a and b may be row-major (stride of the last dim 1) or transposed
   * (stride of the second-to-last dim 1) with any leading stride; other layouts are copied.
   */
  matmul(a: View, b: View, out: View, options: MatmulOptions): void;
  /**
   * outs[i] = alpha * a @ bs[i] + beta * outs[i] for every i: products sharing a (the
   * projections of one input), 2-D views, a and each b row-major or transposed, outs
   * contiguous. Optional: without it the op layer calls matmul once per product.
   */
  matmulGroup?(a: View, bs: readonly View[], outs: readonly View[], options: MatmulOptions): void;
}

export interface IndexOps {
  /** out = x.index_select(axis, index): index 1-D i32/i64; out contiguous. */
  indexSelect(x: View, axis: number, index: View, out: View): void;
  /** out.index_add_(axis, index, src): out[.., index[i], ..] += src[.., i, ..] (in place; repeats add up). */
  indexAdd(out: View, axis: number, index: View, src: View): void;
  /** out = torch.gather(x, axis, index): index has out's shape. */
  gather(x: View, axis: number, index: View, out: View): void;
  /** out.scatter_add_(axis, index, src) (in place). */
  scatterAdd(out: View, axis: number, index: View, src: View): void;
}

export interface NnOps {
  /**
   * Softmax over the last axis of x (..., Tq, Tk), contiguous, after multiplying by scale.
   * With causal, entries with k > q + (Tk - Tq) are masked (probability 0).
   */
  softmax(x: View, out: View, options: { scale: number; causal: boolean }): void;
  /** dx = scale * y * (dy - sum(dy * y, last axis)); y is softmax's output. */
  softmaxGrad(y: View, dy: View, out: View, options: { scale: number }): void;
  /** Log-softmax over the last axis (contiguous). */
  logSoftmax(x: View, out: View): void;
  /** dx = dy - exp(y) * sum(dy, last axis); y is logSoftmax's output. */
  logSoftmaxGrad(y: View, dy: View, out: View): void;
  /**
   * x: (N, D) contiguous; weight (D) or null; out (N, D); rstd (N) f32 = 1/sqrt(mean(x^2) + eps).
   * Computes x * rstd * weight in f32 (Llama's order: normalise, round to x's dtype, scale).
   */
  rmsNorm(x: View, weight: View | null, eps: number, out: View, rstd: View): void;
  /** dx (N, D); dweight (D) or null: written (not accumulated), reduced over N in f32. */
  rmsNormGrad(x: View, weight: View | null, rstd: View, dy: View, dx: View, dweight: View | null): void;
  /** x: (N, D); mean, rstd (N) f32 saved for the backward. */
  layerNorm(x: View, weight: View | null, bias: View | null, eps: number, out: View, mean: View, rstd: View): void;
  layerNormGrad(x: View, weight: View | null, mean: View, rstd: View, dy: View, dx: View, dweight: View | null, dbias: View | null): void;
  /**
   * Rotary embedding. x, out: (B, T, H, D) with the last dim contiguous (other strides any);
   * positions: (B, T) i32; invFreq: (D/2) f32. angle = positions[b, t] * invFreq[i] in f32.
   */
  rope(x: View, positions: View, invFreq: View, out: View, options: RopeOptions): void;
  /**
   * Scaled dot-product attention with grouped-query heads.
   * q: (B, T, Hq, D), k and v: (B, S, Hkv, D), Hq a multiple of Hkv (query head h reads kv
   * head h / (Hq / Hkv)); last dims contiguous, other strides any (a KV cache is a slice).
   * out: (B, T, Hq, D) contiguous; lse: (B, Hq, T) f32 log-sum-exp of the scaled, masked
   * scores (-Infinity for a query that sees no key, whose output row is 0).
   */
  attention(q: View, k: View, v: View, out: View, lse: View, options: AttentionOptions): void;
  /** Gradients of attention; dq, dk, dv contiguous, written (not accumulated). */
  attentionGrad(q: View, k: View, v: View, out: View, lse: View, dout: View, dq: View, dk: View, dv: View, options: AttentionOptions): void;
  /**
   * Cross-entropy from logits (N, V) contiguous and targets (N) i32/i64.
   * losses (N) f32: -log softmax(logits)[target] (with label smoothing), 0 where ignored;
   * lse (N) f32: logsumexp of each row, saved for the backward.
   */
  crossEntropy(logits: View, targets: View, losses: View, lse: View, options: CrossEntropyOptions): void;
  /** dlogits (N, V) = (softmax - smoothed one-hot) * dlosses[n]; rows of ignored targets 0. */
  crossEntropyGrad(logits: View, targets: View, lse: View, dlosses: View, dlogits: View, options: CrossEntropyOptions): void;
}

export interface OptimOps {
  /**
   * One fused AdamW step, in place. param, grad: same length, contiguous; m, v: f32 moments.
   * master: f32 copy of a bf16/f16 param (the update happens on master, then rounds into
   * param), or null to update param directly.
   */
  adamw(param: View, grad: View, m: View, v: View, master: View | null, options: AdamWOptions): void;
}

/**
 * NF4 (4-bit NormalFloat, QLoRA) weights with double-quantized scales.
 * A weight W (N, K) of L = N*K elements (L a multiple of 64) is stored as:
 * - codes: u8 (L/2), element 2i in the high nibble of byte i and 2i+1 in the low nibble, each
 *   an index into the 16 NF4 values (src/quant/nf4-codebook.ts);
 * - absmax of each block of 64 elements, double-quantized: absmaxCodes u8 (L/64) and
 *   absmaxScales f32 (ceil(L/64/256)) with absmax[j] = absmaxOffset +
 *   absmaxScales[j/256] * (absmaxCodes[j] - 127) / 127 (symmetric 8-bit around the mean).
 * Element e = NF4[code(e)] * absmax[e / 64].
 */
export interface Nf4Weight {
  codes: View;
  absmaxCodes: View;
  absmaxScales: View;
  absmaxOffset: number;
}

export interface QuantOps {
  /** Quantizes w (contiguous, L elements) into the preallocated parts of `into`; returns absmaxOffset. */
  nf4Quantize(w: View, into: Nf4Weight): number;
  /** out (contiguous, L elements, float dtype) = dequantized weight. */
  nf4Dequantize(weight: Nf4Weight, out: View): void;
  /**
   * out = alpha * x @ op(W) + beta * out with W (N, K) in NF4, never materialising W in f32:
   * op(W) = W^T (x: (M, K), out: (M, N)) when transposeW, else W (x: (M, N), out: (M, K)),
   * the latter being the input gradient of the former. x and out contiguous.
   */
  nf4Matmul(x: View, weight: Nf4Weight, out: View, options: MatmulOptions & { transposeW: boolean }): void;
}

export interface Backend extends MemoryOps, LayoutOps, ElementwiseOps, MatmulOps, IndexOps, NnOps, OptimOps, QuantOps {
  /** 'reference', 'cpu' or 'cuda'. */
  readonly name: string;
  /** The device string tensors on this backend report: 'reference', 'cpu', 'cuda:0'. */
  readonly device: string;
}
