/**
 * The OpenBLAS side of `npm run bench:gemm`: the addon's benchmark peer (native/bench) loads
 * libopenblas.so.0 with dlopen on first use, so nothing else needs OpenBLAS.
 */
// Internal to @lmflow/tensor (not part of its public API): the addon's raw functions.
import { loadNativeAddon } from '../../packages/tensor/src/backends/cpu/native.js';

export interface OpenBlasPeer {
  library: string;
  /** The kernel OpenBLAS picked (openblas_get_corename), e.g. SkylakeX. */
  corename: string;
  threads: number;
  /** c (M x N) = a (M x K) @ b (K x N), row-major, no transposes. */
  sgemm(a: Float32Array, b: Float32Array, c: Float32Array, M: number, N: number, K: number): void;
}

/** OpenBLAS with `threads` threads, or the reason it is unavailable. */
export function openBlasPeer(threads: number): OpenBlasPeer | { error: string } {
  const addon = loadNativeAddon();
  if (typeof addon.benchPeerInfo !== 'function') {
    return { error: 'this build of the native addon has no benchmark peer (native/bench was not compiled in)' };
  }
  const probe = addon.benchPeerInfo() as { available: boolean; error?: string };
  if (!probe.available) return { error: probe.error ?? 'OpenBLAS unavailable' };
  addon.benchPeerSetThreads(threads);
  const info = addon.benchPeerInfo() as { library: string; corename: string; threads: number };
  return {
    library: info.library,
    corename: info.corename,
    threads: info.threads,
    sgemm: (a, b, c, M, N, K) => addon.benchPeerSgemm(a, b, c, M, N, K),
  };
}
