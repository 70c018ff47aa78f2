/**
 * @internal Small helpers the nn ops share: kernel views of contiguous tensors, the dtype of
 * saved statistics, and dense-row inputs.
 */
import type { View } from '../../backend.js';
import type { DType } from '../../dtype.js';
import { contiguousStrides, type Shape } from '../../shape.js';
import type { Tensor } from '../../tensor.js';
import { contiguous } from '../views.js';

/** A view of contiguous t with another shape, for kernels only (not a Tensor, not recorded). */
export function reshaped(t: Tensor, shape: Shape): View {
  return { storage: t.storage, dtype: t.dtype, shape, strides: contiguousStrides(shape), offset: t.offset };
}

/**
 * Saved statistics (rstd, lse, losses) are f32 as the backend contract says, except for f64
 * inputs: the float64 gradient checks need them exact.
 */
export function statsDType(x: Tensor): DType {
  return x.dtype === 'f64' ? 'f64' : 'f32';
}

/** t when it is contiguous, else a recorded contiguous copy (the caller disposes it when it differs). */
export function contiguousInput(t: Tensor): Tensor {
  return t.isContiguous() ? t : contiguous(t);
}

/** t when its last dimension is dense (stride 1), else a recorded contiguous copy. */
export function denseRowsInput(t: Tensor): Tensor {
  const last = t.ndim - 1;
  return last < 0 || t.shape[last]! <= 1 || t.strides[last] === 1 ? t : contiguous(t);
}
