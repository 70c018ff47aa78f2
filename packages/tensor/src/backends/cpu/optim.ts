import type { OptimOps } from '../../backend.js';
import { nativeFn, nativeView, nativeViewOrNull } from './native.js';

export const cpuOptim: OptimOps = {
  adamw(param, grad, m, v, master, { lr, beta1, beta2, eps, weightDecay, step }) {
    nativeFn('adamw')(nativeView(param), nativeView(grad), nativeView(m), nativeView(v), nativeViewOrNull(master), lr, beta1, beta2, eps, weightDecay, step);
  },
};
