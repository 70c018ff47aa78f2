/** Comparing numbers with tolerances that say what they allow, and errors that say where. */
import type { DType, Tensor } from '@lmflow/tensor';

export interface Tolerance {
  /** Absolute part: |a - e| <= atol + rtol * |e|. */
  atol: number;
  rtol: number;
}

/**
 * Tolerances for comparing a backend against the float64 reference, by the dtype the data is
 * stored in. f32 allows accumulated rounding over long reductions; bf16 has 8 bits of
 * mantissa (one rounding is 2^-8 relative), f16 11 bits.
 */
export function toleranceFor(dtype: DType): Tolerance {
  switch (dtype) {
    case 'f64':
      return { atol: 1e-12, rtol: 1e-10 };
    case 'f32':
      return { atol: 1e-5, rtol: 1e-4 };
    case 'bf16':
      return { atol: 1e-2, rtol: 2e-2 };
    case 'f16':
      return { atol: 2e-3, rtol: 4e-3 };
    default:
      return { atol: 0, rtol: 0 };
  }
}

function flat(x: Tensor | ArrayLike<number>): ArrayLike<number> {
  return 'toFlatArray' in x ? (x as Tensor).toFlatArray() : x;
}

/** Throws with the worst element, its index and both values when any element is out of tolerance. */
export function expectClose(actual: Tensor | ArrayLike<number>, expected: Tensor | ArrayLike<number>, tol: Tolerance, label = 'values'): void {
  const a = flat(actual);
  const e = flat(expected);
  if (a.length !== e.length) throw new Error(`${label}: ${a.length} elements, expected ${e.length}`);
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < a.length; i++) {
    const ai = a[i]!;
    const ei = e[i]!;
    if (Number.isNaN(ei) && Number.isNaN(ai)) continue;
    if (ai === ei) continue; // equal infinities
    const excess = Math.abs(ai - ei) - (tol.atol + tol.rtol * Math.abs(ei));
    if (!(excess <= 0) && (worst < 0 || excess > worstExcess || Number.isNaN(excess))) {
      worst = i;
      worstExcess = Number.isNaN(excess) ? Infinity : excess;
    }
  }
  if (worst >= 0) {
    let bad = 0;
    for (let i = 0; i < a.length; i++) {
      const d = Math.abs(a[i]! - e[i]!);
      if (!(d <= tol.atol + tol.rtol * Math.abs(e[i]!)) && !(a[i] === e[i]) && !(Number.isNaN(a[i]!) && Number.isNaN(e[i]!))) bad++;
    }
    throw new Error(
      `${label}: ${bad} of ${a.length} elements differ beyond atol ${tol.atol} + rtol ${tol.rtol}; ` +
        `worst at [${worst}]: got ${a[worst]}, expected ${e[worst]}`,
    );
  }
}

/** Largest |a - e| / (|e| + floor), for reporting measured agreement. */
export function maxRelativeError(actual: Tensor | ArrayLike<number>, expected: Tensor | ArrayLike<number>, floor = 1e-6): number {
  const a = flat(actual);
  const e = flat(expected);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - e[i]!) / (Math.abs(e[i]!) + floor));
  return worst;
}
