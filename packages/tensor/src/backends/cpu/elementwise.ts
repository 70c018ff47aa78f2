/** Elementwise kernels of the native CPU backend (native/elementwise): thin wrappers. */
import type { ElementwiseOps } from '../../backend.js';
import { nativeFn, nativeView } from './native.js';

export const cpuElementwise: ElementwiseOps = {
  unary(op, x, out) {
    nativeFn('unary')(op, nativeView(x), nativeView(out));
  },
  unaryGrad(op, x, dy, out) {
    nativeFn('unaryGrad')(op, nativeView(x), nativeView(dy), nativeView(out));
  },
  binary(op, a, b, out) {
    nativeFn('binary')(op, nativeView(a), nativeView(b), nativeView(out));
  },
  compare(op, a, b, out) {
    nativeFn('compare')(op, nativeView(a), nativeView(b), nativeView(out));
  },
  scalar(op, x, s, out) {
    nativeFn('scalar')(op, nativeView(x), s, nativeView(out));
  },
  where(cond, a, b, out) {
    nativeFn('where')(nativeView(cond), nativeView(a), nativeView(b), nativeView(out));
  },
  reduce(op, x, axes, out) {
    nativeFn('reduce')(op, nativeView(x), axes, nativeView(out));
  },
  argmax(x, axis, out) {
    nativeFn('argmax')(nativeView(x), axis, nativeView(out));
  },
};
