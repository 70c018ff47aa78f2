/**
 * Float64 finite-difference gradient checks on the reference backend.
 *
 * The function's output is projected onto fixed random weights w (loss = sum(out * w)), so
 * every output element takes part; the analytic gradient is backward with gradient w, the
 * numeric one a central difference of the projection, element by element.
 */
import { Generator, noGrad, randn, tidy, type Tensor } from '@lmflow/tensor';

export interface GradCheckOptions {
  /** Step of the central difference (default 1e-6, right for f64). */
  eps?: number;
  atol?: number;
  rtol?: number;
  /** Check at most this many elements per input, spread evenly (default all up to 256). */
  maxElements?: number;
  /** Indices of inputs not to check (e.g. integer indices). */
  skip?: readonly number[];
}

/** Throws naming the input and element when an analytic gradient is off. */
export function gradCheck(fn: (...inputs: Tensor[]) => Tensor, inputs: readonly Tensor[], options: GradCheckOptions = {}): void {
  const { eps = 1e-6, atol = 1e-7, rtol = 1e-5, maxElements = 256, skip = [] } = options;
  for (const t of inputs) {
    if (!skip.includes(inputs.indexOf(t)) && t.dtype !== 'f64') {
      throw new Error(`gradCheck: inputs must be f64 for a float64 check, got ${t.describe()}`);
    }
  }
  const leaves = inputs.map((t, i) => {
    const leaf = t.detach();
    if (!skip.includes(i)) leaf.requiresGrad = true;
    return leaf;
  });
  try {
    const out = fn(...leaves);
    const weights = randn(out.shape, { dtype: out.dtype, device: out.device, generator: new Generator(12345) });
    const w = weights.toFlatArray();
    out.backward({ gradient: weights });
    out.dispose();
    weights.dispose();
    const project = () =>
      tidy(() => {
        const o = noGrad(() => fn(...leaves)).toFlatArray();
        let s = 0;
        for (let i = 0; i < o.length; i++) s += o[i]! * w[i]!;
        return s;
      });
    leaves.forEach((leaf, index) => {
      if (skip.includes(index)) return;
      if (!leaf.grad) throw new Error(`gradCheck: input ${index} got no gradient`);
      const analytic = leaf.grad.toFlatArray();
      const data = leaf.storage.handle as Float64Array;
      const n = leaf.size;
      const step = Math.max(1, Math.floor(n / maxElements));
      for (let i = 0; i < n; i += step) {
        const offset = offsetOf(leaf, i);
        const saved = data[offset]!;
        data[offset] = saved + eps;
        const plus = project();
        data[offset] = saved - eps;
        const minus = project();
        data[offset] = saved;
        const numeric = (plus - minus) / (2 * eps);
        if (!(Math.abs(analytic[i]! - numeric) <= atol + rtol * Math.abs(numeric))) {
          throw new Error(`gradCheck: input ${index} element ${i}: analytic ${analytic[i]}, numeric ${numeric}`);
        }
      }
    });
  } finally {
    for (const leaf of leaves) leaf.dispose();
  }
}

function offsetOf(t: Tensor, i: number): number {
  let offset = t.offset;
  for (let d = t.ndim - 1; d >= 0; d--) {
    offset += (i % t.shape[d]!) * t.strides[d]!;
    i = Math.floor(i / t.shape[d]!);
  }
  return offset;
}
