/**
 * `npm run test:gpu`: every CUDA kernel against the reference backend on odd sizes and
 * non-contiguous inputs, forward and backward (the reference's gradients are checked against
 * float64 finite differences in its own tests, so matching them is a gradient check).
 * Skipped, with the reason, where no GPU is present.
 */
import { describe, expect, it } from 'vitest';
import { expectClose, randomInput, toleranceFor } from '@lmflow/test-utils';
import {
  adamwUpdate, argmax, backward, cat, crossEntropy, cudaStatus, dequantizeNf4, embedding, exp, gelu, layerNorm, linear, logSoftmax,
  matmul, max, mean, mul, nf4Linear, quantizeNf4, rand, randn, rmsNorm, rope, ropeInvFreq, scaledDotProductAttention, silu, softmax,
  sum, tanh, tensor, Generator, tidy, where, gt, gather, scatterAdd, sigmoid, type DType, type Tensor,
} from '../../index.js';

const status = cudaStatus();
if (!status.available) console.warn(`kernels.gpu.test: skipped, ${status.reason}`);

type Fn = (...xs: Tensor[]) => Tensor;

/**
 * Runs fn on reference (f64) and on cuda (dtype), comparing outputs and input gradients. Both
 * see the same inputs: rounded to dtype first, so the comparison measures the kernels'
 * arithmetic, not the rounding of the inputs (which exp() or a long dot product amplify).
 */
function parity(name: string, shapes: number[][], fn: Fn, dtype: DType = 'f32', options: { layout?: 'contiguous' | 'transposed'; grad?: boolean; gradTolScale?: number } = {}) {
  tidy(() => {
    const inputs = shapes.map((s, i) => randomInput(s, { dtype: 'f64', device: 'reference', seed: 10 + i, layout: options.layout && s.length > 1 ? options.layout : 'contiguous' }).cast(dtype).cast('f64'));
    const ref = inputs.map((t) => t.detach().requiresGrad_());
    const gpu = inputs.map((t) => t.cast(dtype).to('cuda').detach().requiresGrad_());
    const yr = fn(...ref);
    const yg = fn(...gpu);
    const tol = toleranceFor(dtype);
    expectClose(yg.cast('f64').to('reference'), yr, tol, `${name} ${dtype} forward`);
    if (options.grad === false) return;
    const g = randomInput(yr.shape as number[], { dtype: 'f64', device: 'reference', seed: 99 });
    backward(yr, { gradient: g });
    backward(yg, { gradient: g.cast(dtype).to('cuda') });
    const scale = 4 * (options.gradTolScale ?? 1);
    ref.forEach((r, i) => expectClose(gpu[i]!.grad!.cast('f64').to('reference'), r.grad!, { atol: tol.atol * scale, rtol: tol.rtol * scale }, `${name} ${dtype} grad ${i}`));
  });
}

// Runs fn with LMFLOW_CUDA_ATTENTION set (the CUDA library reads it on every attention call).
function withKernels(kernels: string, fn: () => void): void {
  const before = process.env.LMFLOW_CUDA_ATTENTION;
  process.env.LMFLOW_CUDA_ATTENTION = kernels;
  try {
    fn();
  } finally {
    if (before === undefined) delete process.env.LMFLOW_CUDA_ATTENTION;
    else process.env.LMFLOW_CUDA_ATTENTION = before;
  }
}

describe.skipIf(!status.available)('cuda kernels match the reference', () => {
  for (const dtype of ['f32', 'bf16', 'f16'] as const) {
    it(`elementwise, broadcasting and reductions (${dtype})`, () => {
      // The broadcast operand's gradient sums 17 rows, each product rounded to bf16/f16 by the
      // op that made it: its error grows with sqrt(17), so the tolerance does too.
      parity('mul+exp', [[17, 129], [129]], (a, b) => exp(mul(a, b)), dtype, { layout: 'transposed', gradTolScale: dtype === 'f32' ? 1 : Math.sqrt(17) });
      parity('silu/gelu/tanh/sigmoid', [[41, 33]], (a) => mul(mul(silu(a), gelu(a)), sigmoid(tanh(a))), dtype);
      parity('sum/mean/max', [[5, 7, 9]], (a) => mul(sum(a, [0, 2], true), max(mean(a, 1, true), 0, true)), dtype);
    });
    it(`matmul and linear, batched and transposed (${dtype})`, () => {
      parity('matmul', [[3, 17, 33], [3, 33, 9]], (a, b) => matmul(a, b), dtype);
      parity('matmul transposed', [[33, 17], [9, 33]], (a, b) => matmul(a.transpose(0, 1), b.transpose(0, 1)), dtype);
      parity('linear', [[2, 5, 64], [48, 64], [48]], (x, w, b) => linear(x, w, b), dtype);
      // LoRA's skinny products (a rank-8 dimension): x A^T, h B^T, x^T g.
      parity('skinny x A^T', [[37, 300], [8, 300]], (x, w) => matmul(x, w.transpose(0, 1)), dtype);
      parity('skinny h B^T', [[37, 8], [300, 8]], (h, w) => matmul(h, w.transpose(0, 1)), dtype);
      parity('skinny x^T g', [[2100, 24], [2100, 8]], (x, g) => matmul(x.transpose(0, 1), g), dtype);
    });
    it(`softmax, log-softmax, norms and rope (${dtype})`, () => {
      parity('softmax causal', [[2, 7, 7]], (a) => softmax(a, { causal: true }), dtype);
      parity('logSoftmax', [[9, 301]], (a) => logSoftmax(a), dtype);
      parity('rmsNorm', [[13, 96], [96]], (x, w) => rmsNorm(x, w, 1e-5), dtype);
      // Rows of 2, 3 and more 16-byte vectors per thread (the dense path), and rows it leaves to
      // the general kernel (100 bf16/f16 values are not whole vectors; 9000 f32 are too many).
      parity('rmsNorm long rows', [[3, 2056], [2056]], (x, w) => rmsNorm(x, w, 1e-5), dtype);
      parity('rmsNorm longer rows, no weight', [[2, 5000]], (x) => rmsNorm(x, null, 1e-5), dtype);
      parity('rmsNorm general rows', [[5, 100], [100]], (x, w) => rmsNorm(x, w, 1e-5), dtype);
      parity('rmsNorm too long for the dense path', [[2, 9000]], (x) => rmsNorm(x, null, 1e-5), dtype);
      parity('layerNorm', [[13, 96], [96], [96]], (x, w, b) => layerNorm(x, w, b, 1e-5), dtype);
      parity('rope', [[2, 9, 3, 16]], (x) => {
        const positions = tensor([[...Array(9).keys()], [...Array(9).keys()].map((i) => i + 5)], { dtype: 'i32', device: x.device });
        return rope(x, positions, ropeInvFreq(16, 10000, { device: x.device }));
      }, dtype);
    });
    // Each set of tensor-core kernels: mma.sync, and on Hopper the wgmma ones (the default there
    // for the backward and for the forward at head dim 128; elsewhere LMFLOW_CUDA_ATTENTION=wgmma
    // runs mma.sync again).
    for (const kernels of ['mma', 'wgmma']) {
      it(`attention with grouped-query heads, causal and with a KV cache, head dims 64 and 128 (${dtype}, ${kernels})`, () => withKernels(kernels, () => {
        parity('attention D64', [[2, 37, 4, 64], [2, 37, 2, 64], [2, 37, 2, 64]], (q, k, v) => scaledDotProductAttention(q, k, v, { causal: true }), dtype);
        parity('attention D128 T<S', [[1, 5, 2, 128], [1, 70, 1, 128], [1, 70, 1, 128]], (q, k, v) => scaledDotProductAttention(q, k, v, { causal: true }), dtype);
        parity('attention D24 full', [[1, 9, 2, 24], [1, 11, 2, 24], [1, 11, 2, 24]], (q, k, v) => scaledDotProductAttention(q, k, v), dtype);
        // Several query and key tiles (64 rows each), ragged ends, grouped heads.
        parity('attention D64 tiles', [[2, 150, 4, 64], [2, 150, 2, 64], [2, 150, 2, 64]], (q, k, v) => scaledDotProductAttention(q, k, v, { causal: true }), dtype);
        parity('attention D128 tiles T<S', [[1, 97, 4, 128], [1, 203, 1, 128], [1, 203, 1, 128]], (q, k, v) => scaledDotProductAttention(q, k, v, { causal: true }), dtype);
        parity('attention D64 full T>S', [[1, 130, 2, 64], [1, 71, 2, 64], [1, 71, 2, 64]], (q, k, v) => scaledDotProductAttention(q, k, v), dtype);
      }));
      it(`attention over packed samples: segments reset attention at sample borders (${dtype}, ${kernels})`, () => withKernels(kernels, () => {
        parity('attention D64 segments', [[2, 140, 2, 64], [2, 140, 2, 64], [2, 140, 2, 64]], (q, k, v) => {
          const seg = tensor([[...Array(140).keys()].map((t) => (t < 50 ? 0 : t < 75 ? 1 : 2)), [...Array(140).keys()].map((t) => (t < 100 ? 0 : 1))], { dtype: 'i32', device: q.device });
          return scaledDotProductAttention(q, k, v, { causal: true, qSegments: seg, kSegments: seg });
        }, dtype);
        // Longer packed rows over several tiles, grouped-query heads, head dim 128: tiles whose keys
        // share no segment with a warp's rows are skipped, tiles inside one sample need no mask.
        parity('attention D128 segments, grouped heads', [[2, 300, 4, 128], [2, 300, 2, 128], [2, 300, 2, 128]], (q, k, v) => {
          const row = (ends: number[]) => [...Array(300).keys()].map((t) => ends.findIndex((e) => t < e) + 1);
          const seg = tensor([row([40, 170, 290, 300]), row([64, 128, 300])], { dtype: 'i32', device: q.device });
          return scaledDotProductAttention(q, k, v, { causal: true, qSegments: seg, kSegments: seg });
        }, dtype);
        // A query layout that is a view (q sliced out of a fused qkv projection).
        parity('attention D128 strided q', [[1, 70, 2, 384], [1, 70, 2, 128], [1, 70, 2, 128]], (qkv, k, v) => scaledDotProductAttention(qkv.narrow(3, 128, 128), k, v, { causal: true }), dtype);
      }));
    }
    it(`cross-entropy over a large vocabulary with ignored targets (${dtype})`, () => {
      parity('crossEntropy', [[7, 32000]], (logits) => {
        const targets = tensor([1, 31999, -100, 5, 17, -100, 30000], { dtype: 'i32', device: logits.device });
        return crossEntropy(logits, targets, { labelSmoothing: 0.1 });
      }, dtype);
    });
  }

  it('index ops: embedding, gather, scatterAdd, where, argmax, cat', () => {
    parity('embedding', [[50, 16]], (w) => embedding(w, tensor([[3, 49, 3], [0, 7, 7]], { dtype: 'i32', device: w.device })));
    parity('gather', [[6, 5]], (x) => gather(x, 1, tensor([[0, 4], [1, 1], [2, 3], [4, 4], [0, 0], [3, 2]], { dtype: 'i64', device: x.device })));
    parity('scatterAdd', [[6, 5], [6, 2]], (x, s) => scatterAdd(x, 1, tensor([[0, 4], [1, 1], [2, 3], [4, 4], [0, 0], [3, 2]], { dtype: 'i64', device: x.device }), s));
    parity('where+cat', [[4, 9], [4, 9]], (a, b) => cat([where(gt(a, b), a, b), b], 0));
    tidy(() => {
      const x = randn([33, 1000], { device: 'reference', generator: new Generator(3) });
      expect(argmax(x.to('cuda'), 1).to('reference').toFlatArray()).toEqual(argmax(x, 1).toFlatArray());
    });
  });

  it('random numbers are the reference stream bit for bit', () => {
    tidy(() => {
      expect(rand([1001], { device: 'cuda', generator: new Generator(42) }).toFlatArray()).toEqual(rand([1001], { device: 'reference', generator: new Generator(42), dtype: 'f32' }).toFlatArray());
      expect(randn([1001], { device: 'cuda', generator: new Generator(7) }).toFlatArray()).toEqual(randn([1001], { device: 'reference', generator: new Generator(7), dtype: 'f32' }).toFlatArray());
    });
  });

  it('fused AdamW with f32 master weights for bf16 parameters', () => {
    tidy(() => {
      const run = (device: string) => {
        const p = randomInput([1027], { dtype: 'bf16', device, seed: 1 });
        const master = p.cast('f32');
        const g = randomInput([1027], { dtype: 'bf16', device, seed: 2 });
        const m = randomInput([1027], { dtype: 'f32', device, seed: 3 }).mul(0.01);
        const v = randomInput([1027], { dtype: 'f32', device, seed: 4, uniform: [0, 0.01] });
        adamwUpdate(p, g, m, v, { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, step: 3, master });
        return [p, master, m, v].map((t) => t.cast('f64').to('reference'));
      };
      const want = run('reference');
      run('cuda').forEach((t, i) => expectClose(t, want[i]!, i === 0 ? toleranceFor('bf16') : { atol: 1e-6, rtol: 1e-5 }, `adamw ${i}`));
    });
  });

  it('NF4: quantize (bit-identical), dequantize and the NF4 matmul with its input gradient', () => {
    tidy(() => {
      const w = randomInput([96, 128], { dtype: 'f32', device: 'reference', seed: 5 });
      const qr = quantizeNf4(w);
      const qc = quantizeNf4(w.to('cuda'));
      expect(qc.codes.to('reference').toFlatArray()).toEqual(qr.codes.toFlatArray());
      expectClose(dequantizeNf4(qc).to('reference'), dequantizeNf4(qr), { atol: 1e-6, rtol: 1e-6 }, 'dequantize');
      const x = randomInput([5, 128], { dtype: 'f64', device: 'reference', seed: 6 }).requiresGrad_();
      const xc = x.cast('f32').to('cuda').detach().requiresGrad_();
      const yr = nf4Linear(x, qr);
      const yc = nf4Linear(xc, qc);
      expectClose(yc.cast('f64').to('reference'), yr, toleranceFor('f32'), 'nf4 matmul');
      backward(sum(yr));
      backward(sum(yc));
      expectClose(xc.grad!.cast('f64').to('reference'), x.grad!, toleranceFor('f32'), 'nf4 matmul input grad');
    });
  });
});
