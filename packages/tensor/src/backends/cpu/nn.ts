/**
 * The native nn kernels (native/nn): thin wrappers passing views and options to C++, which
 * checks shapes and dtypes and names the kernel in its errors.
 */
import type { NnOps } from '../../backend.js';
import { nativeFn, nativeView, nativeViewOrNull } from './native.js';

export const cpuNn: NnOps = {
  softmax(x, out, { scale, causal }) {
    nativeFn('softmax')(nativeView(x), nativeView(out), scale, causal);
  },
  softmaxGrad(y, dy, out, { scale }) {
    nativeFn('softmaxGrad')(nativeView(y), nativeView(dy), nativeView(out), scale);
  },
  logSoftmax(x, out) {
    nativeFn('logSoftmax')(nativeView(x), nativeView(out));
  },
  logSoftmaxGrad(y, dy, out) {
    nativeFn('logSoftmaxGrad')(nativeView(y), nativeView(dy), nativeView(out));
  },
  rmsNorm(x, weight, eps, out, rstd) {
    nativeFn('rmsNorm')(nativeView(x), nativeViewOrNull(weight), eps, nativeView(out), nativeView(rstd));
  },
  rmsNormGrad(x, weight, rstd, dy, dx, dweight) {
    nativeFn('rmsNormGrad')(nativeView(x), nativeViewOrNull(weight), nativeView(rstd), nativeView(dy), nativeView(dx), nativeViewOrNull(dweight));
  },
  layerNorm(x, weight, bias, eps, out, mean, rstd) {
    nativeFn('layerNorm')(nativeView(x), nativeViewOrNull(weight), nativeViewOrNull(bias), eps, nativeView(out), nativeView(mean), nativeView(rstd));
  },
  layerNormGrad(x, weight, mean, rstd, dy, dx, dweight, dbias) {
    nativeFn('layerNormGrad')(
      nativeView(x), nativeViewOrNull(weight), nativeView(mean), nativeView(rstd),
      nativeView(dy), nativeView(dx), nativeViewOrNull(dweight), nativeViewOrNull(dbias),
    );
  },
  rope(x, positions, invFreq, out, { interleaved, inverse, scale }) {
    nativeFn('rope')(nativeView(x), nativeView(positions), nativeView(invFreq), nativeView(out), interleaved, inverse, scale);
  },
  attention(q, k, v, out, lse, { scale, causal, qSegments, kSegments }) {
    nativeFn('attention')(
      nativeView(q), nativeView(k), nativeView(v), nativeView(out), nativeView(lse),
      scale, causal, nativeViewOrNull(qSegments), nativeViewOrNull(kSegments),
    );
  },
  attentionGrad(q, k, v, out, lse, dout, dq, dk, dv, { scale, causal, qSegments, kSegments }) {
    nativeFn('attentionGrad')(
      nativeView(q), nativeView(k), nativeView(v), nativeView(out), nativeView(lse), nativeView(dout),
      nativeView(dq), nativeView(dk), nativeView(dv),
      scale, causal, nativeViewOrNull(qSegments), nativeViewOrNull(kSegments),
    );
  },
  crossEntropy(logits, targets, losses, lse, { ignoreIndex, labelSmoothing }) {
    nativeFn('crossEntropy')(nativeView(logits), nativeView(targets), nativeView(losses), nativeView(lse), ignoreIndex, labelSmoothing);
  },
  crossEntropyGrad(logits, targets, lse, dlosses, dlogits, { ignoreIndex, labelSmoothing }) {
    nativeFn('crossEntropyGrad')(
      nativeView(logits), nativeView(targets), nativeView(lse), nativeView(dlosses), nativeView(dlogits),
      ignoreIndex, labelSmoothing,
    );
  },
};

/** @internal The vectorized exp of the SIMD level in force, for its accuracy test (f32, contiguous). */
export function nativeExpForTest(x: Float32Array): Float32Array {
  const out = new Float32Array(x.length);
  const view = (data: Float32Array) => ({ data, dtype: 0, offset: 0, shape: [data.length], strides: [1] });
  nativeFn('nnExpForTest')(view(x), view(out));
  return out;
}
