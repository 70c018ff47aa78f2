/** Index kernels of the native CPU backend (native/elementwise/index-ops.cc): thin wrappers. */
import type { IndexOps } from '../../backend.js';
import { nativeFn, nativeView } from './native.js';

export const cpuIndex: IndexOps = {
  indexSelect(x, axis, index, out) {
    nativeFn('indexSelect')(nativeView(x), axis, nativeView(index), nativeView(out));
  },
  indexAdd(out, axis, index, src) {
    nativeFn('indexAdd')(nativeView(out), axis, nativeView(index), nativeView(src));
  },
  gather(x, axis, index, out) {
    nativeFn('gather')(nativeView(x), axis, nativeView(index), nativeView(out));
  },
  scatterAdd(out, axis, index, src) {
    nativeFn('scatterAdd')(nativeView(out), axis, nativeView(index), nativeView(src));
  },
};
