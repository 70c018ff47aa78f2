/**
 * Reference matmul: a plain triple loop in float64 over dense copies of the views, so every
 * layout (strides, stride-0 batch broadcasting) is handled by read() and nothing else.
 */
import type { MatmulOps, View } from '../../backend.js';
import { formatShape } from '../../shape.js';
import { read, write } from './strided.js';

const FLOATS = ['f32', 'bf16', 'f16', 'f64'];

function check(a: View, b: View, out: View): void {
  for (const [role, v] of [['a', a], ['b', b], ['out', out]] as const) {
    if (!FLOATS.includes(v.dtype)) throw new Error(`matmul: ${role} must be f32, bf16, f16 or f64, got ${v.dtype}`);
  }
  const shapes = `a ${formatShape(a.shape)}, b ${formatShape(b.shape)}, out ${formatShape(out.shape)}`;
  const nd = a.shape.length;
  if (nd < 2 || b.shape.length !== nd || out.shape.length !== nd) {
    throw new Error(`matmul: a, b and out must have the same rank (at least 2), got ${shapes}`);
  }
  const ok =
    b.shape[nd - 2] === a.shape[nd - 1] &&
    out.shape[nd - 2] === a.shape[nd - 2] &&
    out.shape[nd - 1] === b.shape[nd - 1] &&
    out.shape.slice(0, -2).every((d, i) => a.shape[i] === d && b.shape[i] === d);
  if (!ok) throw new Error(`matmul: expected a (..., M, K), b (..., K, N), out (..., M, N) with equal batch dims, got ${shapes}`);
}

export const referenceMatmul: MatmulOps = {
  matmul(a, b, out, { alpha, beta }) {
    check(a, b, out);
    const nd = a.shape.length;
    const M = a.shape[nd - 2]!;
    const K = a.shape[nd - 1]!;
    const N = b.shape[nd - 1]!;
    const A = read(a);
    const B = read(b);
    // beta = 0 ignores out entirely (old NaNs included), as BLAS does.
    const C = beta === 0 ? new Float64Array(out.shape.reduce((n, d) => n * d, 1)) : read(out);
    const batch = C.length / (M * N || 1);
    for (let i = 0; i < batch && M * N > 0; i++) {
      const a0 = i * M * K;
      const b0 = i * K * N;
      const c0 = i * M * N;
      for (let m = 0; m < M; m++) {
        for (let n = 0; n < N; n++) {
          let sum = 0;
          for (let k = 0; k < K; k++) sum += A[a0 + m * K + k]! * B[b0 + k * N + n]!;
          const at = c0 + m * N + n;
          C[at] = beta === 0 ? alpha * sum : alpha * sum + beta * C[at]!;
        }
      }
    }
    write(out, C);
  },
};
