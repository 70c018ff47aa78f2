/**
 * Matrix products: `matmul` (torch.matmul semantics) and `linear` (x @ W^T + b with W stored
 * (out_features, in_features), as in Hugging Face checkpoints).
 *
 * Both hand strided views straight to backend.matmul: a transposed weight is a transposed
 * view (the GEMM packs it as such), and batch dims of an operand multiplied by a plain matrix
 * fold into its rows so one GEMM runs instead of a loop. The backwards are GEMMs built the
 * same way; gradients of broadcast batch dims are summed by folding those dims into the
 * GEMM's inner dimension, or else by accumulating with beta = 1, never by reducing a
 * batched intermediate.
 */
import { Tensor, emptyOn, viewOf } from '../tensor.js';
import { broadcastShapes, contiguousStrides, formatShape, numel, type Shape } from '../shape.js';
import { needsRecording, record } from '../autograd/node.js';
import type { View } from '../backend.js';
import { tidy } from '../memory/scope.js';
import { tensor } from './creation.js';
import { expandedView, requireFloat, sameDevice, sameDType } from './util.js';

/**
 * Strides that show t's elements in `shape` without copying, or null when its layout does not
 * allow it (torch's view rule: only dims laid out one after another can merge or split).
 */
function viewStrides(t: Tensor, shape: Shape): number[] | null {
  if (numel(shape) !== t.size) throw new Error(`internal: view of ${t.describe()} as ${formatShape(shape)}`);
  if (t.size === 0) return contiguousStrides(shape);
  const strides = new Array<number>(shape.length);
  let viewD = shape.length - 1;
  let chunkStride = t.ndim > 0 ? t.strides[t.ndim - 1]! : 1;
  let tensorNumel = 1;
  let viewNumel = 1;
  for (let d = t.ndim - 1; d >= 0; d--) {
    tensorNumel *= t.shape[d]!;
    // A chunk of t's dims ends where the next dim up is not laid out right above this one.
    if (d === 0 || (t.shape[d - 1] !== 1 && t.strides[d - 1] !== tensorNumel * chunkStride)) {
      while (viewD >= 0 && (viewNumel < tensorNumel || shape[viewD] === 1)) {
        strides[viewD] = viewNumel * chunkStride;
        viewNumel *= shape[viewD]!;
        viewD--;
      }
      if (viewNumel !== tensorNumel) return null;
      if (d > 0) {
        chunkStride = t.strides[d - 1]!;
        tensorNumel = 1;
        viewNumel = 1;
      }
    }
  }
  while (viewD >= 0 && shape[viewD] === 1) strides[viewD--] = 1;
  return viewD === -1 ? strides : null;
}

/** An unrecorded view of t in `shape`, or null when it needs a copy. */
function viewAs(t: Tensor, shape: Shape): Tensor | null {
  const strides = viewStrides(t, shape);
  return strides ? viewOf(t, [...shape], strides, t.offset) : null;
}

/**
 * t's elements as a (rows, cols) matrix for a backend call, without a Tensor (nothing to
 * track or dispose: the decoding path runs ~100 products a token), or null when the layout
 * needs a copy.
 */
function matrixView(t: Tensor, rows: number, cols: number): View | null {
  const shape = [rows, cols];
  const strides = viewStrides(t, shape);
  return strides ? { storage: t.storage, dtype: t.dtype, shape, strides, offset: t.offset } : null;
}

/** A weight (out, in) seen as its transpose (in, out), for x @ W^T. */
function transposedWeight(w: Tensor): View {
  return { storage: w.storage, dtype: w.dtype, shape: [w.shape[1]!, w.shape[0]!], strides: [w.strides[1]!, w.strides[0]!], offset: w.offset };
}

/** viewAs for reshapes that only add or drop size-1 dims (always possible). */
function unitView(t: Tensor, shape: Shape): Tensor {
  return viewAs(t, shape)!;
}

/** An unrecorded view with the last two dims swapped. */
function transposedView(t: Tensor): Tensor {
  const n = t.ndim;
  const shape = [...t.shape];
  const strides = [...t.strides];
  [shape[n - 2], shape[n - 1]] = [shape[n - 1]!, shape[n - 2]!];
  [strides[n - 2], strides[n - 1]] = [strides[n - 1]!, strides[n - 2]!];
  return viewOf(t, shape, strides, t.offset);
}

/** (size, stride) of dims merged into one, outermost first; null when they do not merge. */
function mergeDims(dims: readonly (readonly [number, number])[]): [number, number] | null {
  let size = 1;
  let stride = 0;
  let started = false;
  for (let i = dims.length - 1; i >= 0; i--) {
    const [s, st] = dims[i]!;
    if (s === 0) return [0, 1];
    if (s === 1) continue;
    if (started && st !== size * stride) return null;
    if (!started) stride = st;
    started = true;
    size *= s;
  }
  return [size, started ? stride : 1];
}

const batchOf = (t: Tensor): number[] => t.shape.slice(0, -2) as number[];

/**
 * out (batch..., M, N) = x @ y + beta * out, with x (.., M, K) and y (.., K, N) broadcasting
 * over batch, out contiguous. When y is a plain matrix, x's batch dims fold into M.
 */
function product(x: Tensor, y: Tensor, out: Tensor, beta = 0): void {
  const backend = out.backend;
  tidy(() => {
    const [M, K] = x.shape.slice(-2) as [number, number];
    const N = y.shape[y.ndim - 1]!;
    const batch = batchOf(out);
    if (batch.length > 0 && numel(batchOf(y)) === 1 && numel(batchOf(x)) === numel(batch)) {
      const rows = numel(batch) * M;
      const xf = viewAs(x, [rows, K]);
      if (xf) {
        backend.matmul(xf, unitView(y, [K, N]), unitView(out, [rows, N]), { alpha: 1, beta });
        return;
      }
    }
    backend.matmul(expandedView(x, [...batch, M, K]), expandedView(y, [...batch, K, N]), out, { alpha: 1, beta });
  });
}

/**
 * out (outBatch..., P, Q) = sum over the batch dims out lacks of x @ y, where x (.., P, R)
 * and y (.., R, Q) broadcast over `batch` and outBatch broadcasts to it (the backward of a
 * broadcast matmul). The summed dims fold into R when both layouts allow (one GEMM);
 * otherwise one GEMM per summed index accumulates with beta = 1, rounding to out's dtype
 * each time.
 */
function reduceProduct(x: Tensor, y: Tensor, out: Tensor, batch: Shape): void {
  const [P, R] = x.shape.slice(-2) as [number, number];
  const Q = y.shape[y.ndim - 1]!;
  const outBatch = batchOf(out);
  const padded = [...new Array<number>(batch.length - outBatch.length).fill(1), ...outBatch];
  const summed = batch.map((_, i) => i).filter((i) => padded[i] === 1 && batch[i] !== 1);
  if (summed.length === 0) {
    tidy(() => product(x, y, unitView(out, [...batch, P, Q])));
    return;
  }
  const kept = batch.map((_, i) => i).filter((i) => !summed.includes(i));
  const keptShape = kept.map((i) => batch[i]!);
  const backend = out.backend;
  tidy(() => {
    // x and y over the whole batch (stride 0 along the dims they lack).
    const xb = viewOf(x, [...batch, P, R], expandedView(x, [...batch, P, R]).strides, x.offset);
    const yb = viewOf(y, [...batch, R, Q], expandedView(y, [...batch, R, Q]).strides, y.offset);
    const outKept = unitView(out, [...keptShape, P, Q]);
    const nb = batch.length;
    const xR = mergeDims([...summed.map((i) => [batch[i]!, xb.strides[i]!] as const), [R, xb.strides[nb + 1]!]]);
    const yR = mergeDims([...summed.map((i) => [batch[i]!, yb.strides[i]!] as const), [R, yb.strides[nb]!]]);
    if (xR && yR) {
      const rr = xR[0];
      const xf = viewOf(xb, [...keptShape, P, rr], [...kept.map((i) => xb.strides[i]!), xb.strides[nb]!, xR[1]], xb.offset);
      const yf = viewOf(yb, [...keptShape, rr, Q], [...kept.map((i) => yb.strides[i]!), yR[1], yb.strides[nb + 1]!], yb.offset);
      backend.matmul(xf, yf, outKept, { alpha: 1, beta: 0 });
      return;
    }
    const count = numel(summed.map((i) => batch[i]!));
    for (let j = 0; j < count; j++) {
      // The j-th combination of summed indices, as an element offset into each operand.
      let rest = j;
      let xOffset = xb.offset;
      let yOffset = yb.offset;
      for (let s = summed.length - 1; s >= 0; s--) {
        const d = summed[s]!;
        const index = rest % batch[d]!;
        rest = Math.floor(rest / batch[d]!);
        xOffset += index * xb.strides[d]!;
        yOffset += index * yb.strides[d]!;
      }
      const xs = viewOf(xb, [...keptShape, P, R], [...kept.map((i) => xb.strides[i]!), xb.strides[nb]!, xb.strides[nb + 1]!], xOffset);
      const ys = viewOf(yb, [...keptShape, R, Q], [...kept.map((i) => yb.strides[i]!), yb.strides[nb]!, yb.strides[nb + 1]!], yOffset);
      backend.matmul(xs, ys, outKept, { alpha: 1, beta: j === 0 ? 0 : 1 });
    }
  });
}

/**
 * Matrix product with torch.matmul's rules: 1-D operands are a row (a) or a column (b) whose
 * dim leaves the result; batch dims (all but the last two) broadcast.
 * a (..., M, K) @ b (..., K, N) -> (..., M, N).
 */
export function matmul(a: Tensor, b: Tensor): Tensor {
  const backend = sameDevice('matmul', a, b);
  requireFloat('matmul', a);
  requireFloat('matmul', b);
  sameDType('matmul', a, b);
  if (a.ndim === 0 || b.ndim === 0) {
    throw new Error(`matmul: operands need at least 1 dimension, got ${a.describe()} and ${b.describe()}`);
  }
  // a2: (aBatch..., M, K), b2: (bBatch..., K, N)
  const a2 = a.ndim === 1 ? [1, a.shape[0]!] : [...a.shape];
  const b2 = b.ndim === 1 ? [b.shape[0]!, 1] : [...b.shape];
  const [M, K] = a2.slice(-2) as [number, number];
  const [Kb, N] = b2.slice(-2) as [number, number];
  if (K !== Kb) {
    throw new Error(
      `matmul: inner dimensions differ: a ${formatShape(a.shape)} has ${K} columns but b ${formatShape(b.shape)} has ${Kb} rows ` +
        `(expected a (..., M, K) and b (..., K, N); ${a.describe()}, ${b.describe()})`,
    );
  }
  let batch: number[];
  try {
    batch = broadcastShapes('matmul', a2.slice(0, -2), b2.slice(0, -2));
  } catch {
    throw new Error(
      `matmul: batch dims of a ${formatShape(a.shape)} and b ${formatShape(b.shape)} cannot be broadcast together ` +
        `(${formatShape(a2.slice(0, -2))} vs ${formatShape(b2.slice(0, -2))})`,
    );
  }
  const outShape = [...batch, ...(a.ndim > 1 ? [M] : []), ...(b.ndim > 1 ? [N] : [])];
  const out = emptyOn(backend, outShape, a.dtype);
  tidy(() => product(unitView(a, a2), unitView(b, b2), unitView(out, [...batch, M, N])));

  const aShape = a.shape;
  const bShape = b.shape;
  const needA = a.requiresGrad;
  const needB = b.requiresGrad;
  // Each gradient needs only the other operand: frozen weights keep no activations alive.
  const save = [...(needB ? [a] : []), ...(needA ? [b] : [])];
  return record('matmul', [a, b], out, save, (g, saved, needs) => {
    const sa = needB ? saved[0]! : null;
    const sb = needA ? saved[needB ? 1 : 0]! : null;
    const gm = unitView(g, [...batch, M, N]);
    let da: Tensor | null = null;
    let db: Tensor | null = null;
    if (needs[0] && sb) {
      // dA (aBatch..., M, K) = sum over broadcast dims of g @ B^T
      da = emptyOn(g.backend, a2, g.dtype);
      reduceProduct(gm, transposedView(unitView(sb, b2)), da, batch);
    }
    if (needs[1] && sa) {
      // dB (bBatch..., K, N) = sum over broadcast dims of A^T @ g
      db = emptyOn(g.backend, b2, g.dtype);
      reduceProduct(transposedView(unitView(sa, a2)), gm, db, batch);
    }
    return [da && finishGrad(da, aShape), db && finishGrad(db, bShape)];
  });
}

/** A contiguous gradient viewed in its input's shape (dropping the dims of 1-D operands). */
function finishGrad(grad: Tensor, shape: Shape): Tensor {
  if (grad.shape.length === shape.length) return grad;
  const out = unitView(grad, shape);
  grad.dispose();
  return out;
}

/**
 * y = x @ weight^T + bias. x (..., in), weight (out, in) as Hugging Face stores it, bias (out).
 * All leading dims of x become GEMM rows when their layout allows, so a whole batch of
 * tokens is one GEMM, forward and backward (dW = g^T x is one GEMM too).
 */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  const inputs = bias ? [x, weight, bias] : [x, weight];
  const backend = sameDevice('linear', ...inputs);
  requireFloat('linear', x);
  sameDType('linear', x, weight);
  if (bias) sameDType('linear', x, bias);
  if (weight.ndim !== 2) {
    throw new Error(`linear: weight must have 2 dimensions (out_features, in_features), got ${weight.describe()}`);
  }
  const [outFeatures, inFeatures] = weight.shape as [number, number];
  if (x.ndim === 0 || x.shape[x.ndim - 1] !== inFeatures) {
    throw new Error(
      `linear: x ${formatShape(x.shape)} must end in in_features = ${inFeatures} to match weight ${formatShape(weight.shape)} ` +
        `(out_features, in_features); got ${x.describe()}`,
    );
  }
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== outFeatures)) {
    throw new Error(`linear: bias must have shape [${outFeatures}] (out_features of weight ${formatShape(weight.shape)}), got ${bias.describe()}`);
  }
  // x2: (lead..., rows, in) with at least one row dim; out2 the same with out features.
  const lead = x.shape.slice(0, -1);
  const rowsShape = lead.length > 0 ? lead : [1];
  const out = emptyOn(backend, [...lead, outFeatures], x.dtype);
  // Rows that fold into one matrix (the usual case) go to the backend as plain views.
  const xRows = bias ? null : matrixView(x, numel(rowsShape), inFeatures);
  if (xRows) {
    const outRows = matrixView(out, numel(rowsShape), outFeatures)!;
    backend.matmul(xRows, transposedWeight(weight), outRows, { alpha: 1, beta: 0 });
  } else tidy(() => {
    const x2 = unitView(x, [...rowsShape, inFeatures]);
    const out2 = unitView(out, [...rowsShape, outFeatures]);
    let beta = 0;
    if (bias) {
      // out = 1 (rows x 1) @ bias (1 x out): the bias broadcast written by the GEMM itself,
      // which the product below then accumulates onto (beta = 1).
      const one = tensor([1], { dtype: bias.dtype, device: bias.device });
      const ones = viewOf(one, [...rowsShape, 1], new Array<number>(rowsShape.length + 1).fill(0), 0);
      product(ones, viewOf(bias, [1, outFeatures], [0, bias.strides[0]!], bias.offset), out2);
      beta = 1;
    }
    product(x2, transposedView(weight), out2, beta);
  });

  const xShape = x.shape;
  const needX = x.requiresGrad;
  const needW = weight.requiresGrad;
  // dx needs the weight, dW needs x: a frozen weight (LoRA) keeps no activation alive.
  const save = [...(needW ? [x] : []), ...(needX ? [weight] : [])];
  return record('linear', inputs, out, save, (g, saved, needs) => {
    const sx = needW ? saved[0]! : null;
    const sw = needX ? saved[needW ? 1 : 0]! : null;
    // g2: (rows..., out)
    const g2 = unitView(g, [...rowsShape, outFeatures]);
    let dx: Tensor | null = null;
    let dw: Tensor | null = null;
    let db: Tensor | null = null;
    if (needs[0] && sw) {
      // dx (rows..., in) = g (rows..., out) @ W (out, in)
      dx = emptyOn(g.backend, xShape, g.dtype);
      tidy(() => product(g2, sw, unitView(dx!, [...rowsShape, inFeatures])));
    }
    if (needs[1] && sx) {
      // dW (out, in) = sum over rows of g_r^T (out, 1) @ x_r (1, in): g^T (out, R) @ x (R, in)
      // once the row dims fold.
      dw = emptyOn(g.backend, [outFeatures, inFeatures], g.dtype);
      tidy(() => {
        const gCol = viewOf(g2, [...rowsShape, outFeatures, 1], [...g2.strides.slice(0, -1), g2.strides[g2.ndim - 1]!, 0], g2.offset);
        const x2 = unitView(sx, [...rowsShape, inFeatures]);
        const xRow = viewOf(x2, [...rowsShape, 1, inFeatures], [...x2.strides.slice(0, -1), 0, x2.strides[x2.ndim - 1]!], x2.offset);
        reduceProduct(gCol, xRow, dw!, rowsShape);
      });
    }
    if (needs[2]) {
      // dbias (out) = sum over rows of g: ones (1, R) @ g (R, out)
      db = emptyOn(g.backend, [outFeatures], g.dtype);
      tidy(() => {
        const one = tensor([1], { dtype: g.dtype, device: g.device });
        const ones = viewOf(one, [...rowsShape, 1, 1], new Array<number>(rowsShape.length + 2).fill(0), 0);
        const gRow = viewOf(g2, [...rowsShape, 1, outFeatures], [...g2.strides.slice(0, -1), 0, g2.strides[g2.ndim - 1]!], g2.offset);
        reduceProduct(ones, gRow, unitView(db!, [1, outFeatures]), rowsShape);
      });
    }
    return bias ? [dx, dw, db] : [dx, dw];
  });
}

/**
 * linear(x, w) for each weight of a list (no biases): the projections of one input, such as
 * q, k and v, or gate and up. Where nothing is recorded for autograd and the backend has
 * matmulGroup, they run as one backend call (for decoding, one job of the CPU thread pool
 * instead of one per weight); otherwise each is linear(x, w). Results are the same either way.
 * x (..., in), weights[i] (out_i, in) -> [(..., out_i)].
 */
export function linearGroup(x: Tensor, weights: readonly Tensor[]): Tensor[] {
  const backend = sameDevice('linearGroup', x, ...weights);
  const inFeatures = x.shape[x.ndim - 1];
  const rows = x.ndim === 0 ? 0 : x.size / inFeatures!;
  const xRows = x.ndim > 0 && inFeatures! > 0 ? matrixView(x, rows, inFeatures!) : null;
  const fused =
    backend.matmulGroup !== undefined &&
    xRows !== null &&
    !needsRecording([x, ...weights]) &&
    weights.every((w) => w.ndim === 2 && w.shape[1] === inFeatures && w.dtype === x.dtype);
  if (!fused) return weights.map((w) => linear(x, w));
  requireFloat('linearGroup', x);
  const lead = x.shape.slice(0, -1);
  const outs = weights.map((w) => emptyOn(backend, [...lead, w.shape[0]!], x.dtype));
  backend.matmulGroup!(xRows, weights.map(transposedWeight), outs.map((o, i) => matrixView(o, rows, weights[i]!.shape[0]!)!), { alpha: 1, beta: 0 });
  return outs;
}

declare module '../tensor.js' {
  interface Tensor {
    /** Matrix product with torch.matmul semantics (see matmul). */
    matmul(other: Tensor): Tensor;
  }
}

Object.assign(Tensor.prototype, {
  matmul(this: Tensor, other: Tensor) {
    return matmul(this, other);
  },
});
