/**
 * Indexing along one axis with integer (i32/i64) index tensors: indexSelect, embedding,
 * gather, scatterAdd and indexAdd. Out-of-range indices throw (naming the op and the index)
 * before anything is written. Gradients flow to the data operands, never to the indices.
 */
import { Tensor, emptyOn, viewOf } from '../tensor.js';
import { record } from '../autograd/node.js';
import { contiguousStrides, formatShape, normalizeAxis, type Shape } from '../shape.js';
import { contiguousData, requireDType, requireRank, sameDType, sameDevice } from './util.js';
import { narrow } from './views.js';

const INDEX_DTYPES = ['i32', 'i64'] as const;

function zerosOn(like: Tensor, shape: Shape): Tensor {
  const out = emptyOn(like.backend, shape, like.dtype);
  like.backend.fill(out, 0);
  return out;
}

/** t viewed with another shape of the same size (t contiguous). */
function viewAs(t: Tensor, shape: Shape): Tensor {
  return viewOf(t, [...shape], contiguousStrides(shape), t.offset);
}

/** out[.., i, ..] = x[.., index[i], ..] along axis; index is 1-D. */
export function indexSelect(x: Tensor, axis: number, index: Tensor): Tensor {
  const backend = sameDevice('indexSelect', x, index);
  requireDType('indexSelect', index, INDEX_DTYPES, 'index');
  requireRank('indexSelect', index, 1, 'index');
  const a = normalizeAxis('indexSelect', axis, x.ndim);
  if (x.ndim === 0) throw new Error(`indexSelect: ${x.describe()} has no axis to index`);
  const shape = x.shape.map((d, i) => (i === a ? index.shape[0]! : d));
  const out = emptyOn(backend, shape, x.dtype);
  backend.indexSelect(x, a, index, out);
  const xShape = x.shape;
  return record('indexSelect', [x], out, [index], (g, [ids]) => {
    const dx = zerosOn(g, xShape);
    g.backend.indexAdd(dx, a, ids!, g);
    return [dx];
  });
}

/**
 * Rows of weight (V, C) picked by ids (any shape, i32/i64): (...ids.shape, C). The backward
 * adds each gradient row into the row of its id (repeated ids add up).
 */
export function embedding(weight: Tensor, ids: Tensor): Tensor {
  // weight: (V, C)  ids: (...S) flattened to (N)  rows: (N, C) viewed as out: (...S, C)
  const backend = sameDevice('embedding', weight, ids);
  requireRank('embedding', weight, 2, 'weight', '(vocabulary, channels)');
  requireDType('embedding', ids, INDEX_DTYPES, 'ids');
  const [, channels] = weight.shape as [number, number];
  const flatIds = contiguousData(ids);
  const flat = viewAs(flatIds, [ids.size]);
  if (flatIds !== ids) flatIds.dispose();
  try {
    const rows = emptyOn(backend, [ids.size, channels], weight.dtype);
    backend.indexSelect(weight, 0, flat, rows);
    const out = viewAs(rows, [...ids.shape, channels]);
    rows.dispose();
    const wShape = weight.shape;
    return record('embedding', [weight], out, [flat], (g, [saved]) => {
      // g: (...S, C) -> (N, C), added into dw: (V, C) at the rows of the ids.
      const dw = zerosOn(g, wShape);
      const gc = contiguousData(g);
      const g2 = viewAs(gc, [saved!.size, channels]);
      g.backend.indexAdd(dw, 0, saved!, g2);
      g2.dispose();
      if (gc !== g) gc.dispose();
      return [dw];
    });
  } finally {
    flat.dispose();
  }
}

function checkGatherShapes(op: string, index: Tensor, data: Tensor, dataRole: string, axis: number, includeAxis: boolean): void {
  if (index.ndim !== data.ndim || index.shape.some((d, i) => (i !== axis || includeAxis) && d > data.shape[i]!)) {
    throw new Error(
      `${op}: index ${formatShape(index.shape)} does not fit ${dataRole} ${formatShape(data.shape)}: expected the same rank and ` +
        `index no larger in every dimension${includeAxis ? '' : ` except axis ${axis}`}`,
    );
  }
}

/** out[i][j][k] = x[i][index[i][j][k]][k] (for axis 1): torch.gather; out has index's shape. */
export function gather(x: Tensor, axis: number, index: Tensor): Tensor {
  const backend = sameDevice('gather', x, index);
  requireDType('gather', index, INDEX_DTYPES, 'index');
  const a = normalizeAxis('gather', axis, x.ndim);
  checkGatherShapes('gather', index, x, 'x', a, false);
  const out = emptyOn(backend, index.shape, x.dtype);
  backend.gather(x, a, index, out);
  const xShape = x.shape;
  return record('gather', [x], out, [index], (g, [ids]) => {
    const dx = zerosOn(g, xShape);
    g.backend.scatterAdd(dx, a, ids!, g);
    return [dx];
  });
}

/**
 * A copy of x with src added at the positions index names along axis:
 * out[i][index[i][j][k]][k] += src[i][j][k] (for axis 1). Repeated indices add up.
 */
export function scatterAdd(x: Tensor, axis: number, index: Tensor, src: Tensor): Tensor {
  const backend = sameDevice('scatterAdd', x, index, src);
  requireDType('scatterAdd', index, INDEX_DTYPES, 'index');
  sameDType('scatterAdd', x, src);
  const a = normalizeAxis('scatterAdd', axis, x.ndim);
  checkGatherShapes('scatterAdd', index, src, 'src', a, true);
  checkGatherShapes('scatterAdd', index, x, 'x', a, false);
  const out = emptyOn(backend, x.shape, x.dtype);
  backend.copy(x, out);
  backend.scatterAdd(out, a, index, src);
  const srcShape = src.shape;
  return record('scatterAdd', [x, src], out, [index], (g, [ids], needs) => {
    let dsrc: Tensor | null = null;
    if (needs[1]) {
      const picked = emptyOn(g.backend, ids!.shape, g.dtype);
      g.backend.gather(g, a, ids!, picked);
      dsrc = padTo(picked, srcShape);
    }
    return [needs[0] ? g : null, dsrc];
  });
}

/** t (smaller or equal in every dimension) placed at the start of zeros of `shape`. */
function padTo(t: Tensor, shape: Shape): Tensor {
  if (t.shape.every((d, i) => d === shape[i])) return t;
  const out = zerosOn(t, shape);
  let window = out;
  for (let d = 0; d < shape.length; d++) {
    const next = narrow(window, d, 0, t.shape[d]!);
    if (window !== out) window.dispose();
    window = next;
  }
  t.backend.copy(t, window);
  if (window !== out) window.dispose();
  t.dispose();
  return out;
}

/** A copy of x with src's slices added along axis: out[.., index[i], ..] += src[.., i, ..]. */
export function indexAdd(x: Tensor, axis: number, index: Tensor, src: Tensor): Tensor {
  const backend = sameDevice('indexAdd', x, index, src);
  requireDType('indexAdd', index, INDEX_DTYPES, 'index');
  requireRank('indexAdd', index, 1, 'index');
  sameDType('indexAdd', x, src);
  const a = normalizeAxis('indexAdd', axis, x.ndim);
  const expected = x.shape.map((d, i) => (i === a ? index.shape[0]! : d));
  if (src.ndim !== x.ndim || src.shape.some((d, i) => d !== expected[i])) {
    throw new Error(`indexAdd: src has shape ${formatShape(src.shape)}, expected ${formatShape(expected)} (x ${formatShape(x.shape)} with axis ${a} of size ${index.shape[0]}, the length of index)`);
  }
  const out = emptyOn(backend, x.shape, x.dtype);
  backend.copy(x, out);
  backend.indexAdd(out, a, index, src);
  return record('indexAdd', [x, src], out, [index], (g, [ids], needs) => {
    let dsrc: Tensor | null = null;
    if (needs[1]) {
      dsrc = emptyOn(g.backend, expected, g.dtype);
      g.backend.indexSelect(g, a, ids!, dsrc);
    }
    return [needs[0] ? g : null, dsrc];
  });
}

declare module '../tensor.js' {
  interface Tensor {
    indexSelect(axis: number, index: Tensor): Tensor;
    gather(axis: number, index: Tensor): Tensor;
    scatterAdd(axis: number, index: Tensor, src: Tensor): Tensor;
    indexAdd(axis: number, index: Tensor, src: Tensor): Tensor;
  }
}

Object.assign(Tensor.prototype, {
  indexSelect(this: Tensor, axis: number, index: Tensor) { return indexSelect(this, axis, index); },
  gather(this: Tensor, axis: number, index: Tensor) { return gather(this, axis, index); },
  scatterAdd(this: Tensor, axis: number, index: Tensor, src: Tensor) { return scatterAdd(this, axis, index, src); },
  indexAdd(this: Tensor, axis: number, index: Tensor, src: Tensor) { return indexAdd(this, axis, index, src); },
});
