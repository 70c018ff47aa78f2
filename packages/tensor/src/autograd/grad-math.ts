/**
 * The little arithmetic the autograd engine itself needs, on backends directly (the engine
 * must not depend on the op layer, which depends on it).
 */
import { Tensor, emptyOn, storageRefCount } from '../tensor.js';
import type { DType } from '../dtype.js';

/** A contiguous copy, optionally converted to another dtype. */
export function cloneTensor(t: Tensor, dtype: DType = t.dtype): Tensor {
  const out = emptyOn(t.backend, t.shape, dtype);
  t.backend.copy(t, out);
  return out;
}

export function onesLike(t: Tensor): Tensor {
  const out = emptyOn(t.backend, t.shape, t.dtype);
  t.backend.fill(out, 1);
  return out;
}

/**
 * a + b, reusing a's memory when a owns it alone (the usual case for gradients), else a new
 * tensor (and a is disposed). Returns the sum; b is left to the caller.
 */
export function addInto(a: Tensor, b: Tensor): Tensor {
  if (storageRefCount(a.storage) === 1 && a.isContiguous()) {
    a.backend.binary('add', a, b, a);
    return a;
  }
  const out = emptyOn(a.backend, a.shape, a.dtype);
  a.backend.binary('add', a, b, out);
  a.dispose();
  return out;
}
