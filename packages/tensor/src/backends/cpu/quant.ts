import type { Nf4Weight, QuantOps } from '../../backend.js';
import { nativeFn, nativeView } from './native.js';

// The four parts in the order the native functions take them.
function parts(weight: Nf4Weight): unknown[] {
  return [nativeView(weight.codes), nativeView(weight.absmaxCodes), nativeView(weight.absmaxScales), weight.absmaxOffset];
}

export const cpuQuant: QuantOps = {
  nf4Quantize(w, into) {
    return nativeFn('nf4Quantize')(nativeView(w), nativeView(into.codes), nativeView(into.absmaxCodes), nativeView(into.absmaxScales)) as number;
  },
  nf4Dequantize(weight, out) {
    nativeFn('nf4Dequantize')(...parts(weight), nativeView(out));
  },
  nf4Matmul(x, weight, out, { alpha, beta, transposeW }) {
    nativeFn('nf4Matmul')(nativeView(x), ...parts(weight), nativeView(out), alpha, beta, transposeW);
  },
};
