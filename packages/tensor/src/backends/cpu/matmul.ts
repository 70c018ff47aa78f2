/** The native GEMM (native/gemm): batched, strided, bf16/f16 converted while packing. */
import type { MatmulOps } from '../../backend.js';
import { nativeFn, nativeView } from './native.js';

export const cpuMatmul: MatmulOps = {
  matmul(a, b, out, { alpha, beta }) {
    nativeFn('matmul')(nativeView(a), nativeView(b), nativeView(out), alpha, beta);
  },
};
