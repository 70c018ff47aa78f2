/** Deterministic test inputs, including the awkward layouts kernels must handle. */
import { Generator, randn, rand, tidy, type DType, type Tensor } from '@lmflow/tensor';

export interface InputOptions {
  dtype?: DType;
  device?: string;
  seed?: number;
  /** 'contiguous' (default); 'transposed': a transposed view of a larger buffer; 'strided': every other element of the last dim. */
  layout?: 'contiguous' | 'transposed' | 'strided';
  /** Uniform in [low, high) instead of standard normal. */
  uniform?: [number, number];
  requiresGrad?: boolean;
}

/**
 * A random tensor with the given shape. Non-contiguous layouts hold the same kind of values
 * in a view whose strides are not row-major, so kernels see real strided inputs.
 */
export function randomInput(shape: readonly number[], options: InputOptions = {}): Tensor {
  const { dtype = 'f32', device = 'reference', seed = 1, layout = 'contiguous' } = options;
  const generator = new Generator(seed);
  const make = (s: readonly number[]) =>
    options.uniform
      ? rand(s, { dtype, device, generator, low: options.uniform[0], high: options.uniform[1] })
      : randn(s, { dtype, device, generator });
  const out = tidy(() => {
    if (layout === 'contiguous' || shape.length === 0) return make(shape);
    if (layout === 'transposed') {
      if (shape.length < 2) return make(shape).slice(0, 0, undefined, 1);
      const swapped = [...shape];
      [swapped[swapped.length - 1], swapped[swapped.length - 2]] = [swapped[swapped.length - 2]!, swapped[swapped.length - 1]!];
      return make(swapped).transpose(-1, -2);
    }
    const wide = [...shape];
    wide[wide.length - 1] = wide[wide.length - 1]! * 2;
    return make(wide).slice(-1, 0, undefined, 2);
  });
  if (options.requiresGrad) out.requiresGrad = true;
  return out;
}

/** The same values on another device and/or dtype, as a fresh contiguous leaf. */
export function copyTo(t: Tensor, device: string, dtype: DType = t.dtype, requiresGrad = t.requiresGrad): Tensor {
  const out = tidy(() => t.detach().to(device).cast(dtype));
  if (requiresGrad) out.requiresGrad = true;
  return out;
}
