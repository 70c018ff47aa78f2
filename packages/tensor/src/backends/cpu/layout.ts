import type { LayoutOps } from '../../backend.js';
import { nativeFn, nativeView } from './native.js';

export const cpuLayout: LayoutOps = {
  fill(out, value) {
    nativeFn('fill')(nativeView(out), value);
  },
  copy(src, out) {
    nativeFn('copy')(nativeView(src), nativeView(out));
  },
  random(out, kind, a, b, seed, offset) {
    nativeFn('random')(nativeView(out), kind, a, b, seed, offset);
  },
  dropout(x, out, p, seed, offset) {
    nativeFn('dropout')(nativeView(x), nativeView(out), p, seed, offset);
  },
};
