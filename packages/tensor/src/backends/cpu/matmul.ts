/** The native GEMM (native/gemm): batched, strided, bf16/f16 converted while packing. */
import type { MatmulOps } from '../../backend.js';
import { nativeFn, nativeView } from './native.js';

export const cpuMatmul: MatmulOps = {
  matmul(a, b, out, { alpha, beta }) {
    nativeFn('matmul')(nativeView(a), nativeView(b), nativeView(out), alpha, beta);
  },
  matmulGroup(a, bs, outs, { alpha, beta }) {
    nativeFn('matmulGroup')(nativeView(a), bs.map(nativeView), outs.map(nativeView), alpha, beta);
  },
};
