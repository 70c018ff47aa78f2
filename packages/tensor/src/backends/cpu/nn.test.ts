import { afterAll, describe, expect, it } from 'vitest';
import { expectClose, randomInput, toleranceFor } from '@lmflow/test-utils';
import { cpuNumThreads, cpuSimdLevel, getBackend, scaledDotProductAttention, setCpuNumThreads, setCpuSimdLevel, tensor, tidy, type Tensor } from '../../index.js';
import { gradsOf, pair } from '../../ops/nn/test-support.js';
import { nativeExpForTest } from './nn.js';

// Distance in f32 units in the last place between a and the f32 nearest to e.
function ulps(a: number, e: number): number {
  const f = new Float32Array([a, Math.fround(e)]);
  const i = new Int32Array(f.buffer);
  return Math.abs(i[0]! - i[1]!);
}

describe('native nn kernels', () => {
  const original = cpuSimdLevel() as 'avx512' | 'avx2' | 'scalar';
  afterAll(() => {
    setCpuSimdLevel(original);
  });

  for (const level of ['avx512', 'avx2', 'scalar'] as const) {
    it(`the vectorized exp (${level}) is within 2 ulp over the f32 range, with exact special cases`, () => {
      setCpuSimdLevel(level);
      const n = 200_003;
      const x = new Float32Array(n);
      for (let i = 0; i < n; i++) x[i] = -87.3 + (176 * i) / (n - 1); // normal results only
      const y = nativeExpForTest(x);
      let worst = 0;
      for (let i = 0; i < n; i++) worst = Math.max(worst, ulps(y[i]!, Math.exp(x[i]!)));
      expect(worst).toBeLessThanOrEqual(2);
      const special = new Float32Array([0, -0, 1, -1, -Infinity, Infinity, NaN, -200, 100, -100, -103, 88.7, 1e-30, -1e-30, 0.5]);
      const e = nativeExpForTest(special);
      expect(Array.from(e.slice(0, 4))).toEqual([1, 1, Math.fround(Math.E), Math.fround(1 / Math.E)]);
      expect(e[4]).toBe(0);
      expect(e[5]).toBe(Infinity);
      expect(e[6]).toBeNaN();
      expect(e[7]).toBe(0);
      expect(e[8]).toBe(Infinity);
      // Subnormal results: close in absolute terms (2^-149 is the f32 step there).
      expect(Math.abs(e[9]! - Math.exp(-100))).toBeLessThan(2 ** -140);
      expect(Math.abs(e[10]! - Math.exp(-103))).toBeLessThan(2 ** -145);
      expect(ulps(e[11]!, Math.exp(Math.fround(88.7)))).toBeLessThanOrEqual(2);
      expect(Array.from(e.slice(12))).toEqual([1, 1, Math.fround(Math.exp(0.5))].map((v, i) => (i < 2 ? 1 : v)));
    });
  }

  it('f64 tensors are refused by the cpu kernels with a message that points to the reference backend', () => {
    tidy(() => {
      const x = tensor([[1, 2, 3]], { device: 'cpu', dtype: 'f64' });
      const out = tensor([[0, 0, 0]], { device: 'cpu', dtype: 'f64' });
      expect(() => getBackend('cpu').softmax(x, out, { scale: 1, causal: false })).toThrow(/softmax: x must be f32, bf16 or f16 on the cpu backend, got f64 \[1, 3\] \(f64 runs on the reference backend\)/);
    });
  });

  it('kernel argument errors name the kernel, the operand and the shapes', () => {
    tidy(() => {
      const cpu = getBackend('cpu');
      const q = tensor(new Float32Array(2 * 3 * 4), { device: 'cpu', shape: [1, 2, 3, 4] });
      const kv = tensor(new Float32Array(5 * 4), { device: 'cpu', shape: [1, 5, 1, 4] });
      const out = tensor(new Float32Array(24), { device: 'cpu', shape: [1, 2, 3, 4] });
      const lse = tensor(new Float32Array(6), { device: 'cpu', shape: [1, 2, 3] });
      expect(() => cpu.attention(q, kv, kv, out, lse, { scale: 1, causal: false })).toThrow(/attention: lse must have shape \[1, 3, 2\] \(B, Hq, T\), got f32 \[1, 2, 3\]/);
      const logits = tensor(new Float32Array(6), { device: 'cpu', shape: [2, 3] });
      const targets = tensor([0, 7], { device: 'cpu', dtype: 'i32' });
      const stat = tensor([0, 0], { device: 'cpu' });
      expect(() => cpu.crossEntropy(logits, targets, stat, stat, { ignoreIndex: -100, labelSmoothing: 0 })).toThrow(/crossEntropy: target 7 of row 1 is outside \[0, 3\) and is not ignoreIndex \(-100\)/);
      const x = tensor(new Float32Array(12), { device: 'cpu', shape: [3, 4] });
      expect(() => cpu.rmsNorm(x, tensor([1, 1, 1], { device: 'cpu' }), 1e-6, x, tensor([0, 0, 0], { device: 'cpu' }))).toThrow(/rmsNorm: weight must have shape \[4\] \(the last dimension of x \[3, 4\]\), got \[3\]/);
    });
  });

  for (const level of ['avx512', 'avx2', 'scalar'] as const) {
    it(`attention for a few queries (decoding) matches the reference: f32, bf16, f16, head dims of whole vectors and not (${level})`, () => {
      setCpuSimdLevel(level);
      tidy(() => {
        // T = 1 and 3 queries after a cache (S > T), grouped heads; D 64 is whole vectors at every
        // level (read in place), D 40 is not at avx512 and avx2 (converted row by row).
        for (const dtype of ['f32', 'bf16', 'f16'] as const) {
          for (const [T, D] of [[1, 64], [3, 64], [1, 40]] as const) {
            const [qr, qc] = pair([2, T, 4, D], { seed: 11, dtype });
            const [kr, kc] = pair([2, 37, 2, D], { seed: 12, dtype });
            const [vr, vc] = pair([2, 37, 2, D], { seed: 13, dtype });
            const expected = scaledDotProductAttention(qr, kr, vr, { causal: true });
            expectClose(scaledDotProductAttention(qc, kc, vc, { causal: true }), expected, toleranceFor(dtype), `${dtype} T ${T} D ${D}`);
            const seg = (rows: number[][]) => tensor(rows, { dtype: 'i32', device: qc.device });
            const kSeg = [[...Array(37).keys()].map((s) => (s < 20 ? 1 : 2)), Array(37).fill(1)];
            const qSeg = kSeg.map((row) => row.slice(37 - T));
            const withSegments = scaledDotProductAttention(qr, kr, vr, { causal: true, qSegments: seg(qSeg).to('reference'), kSegments: seg(kSeg).to('reference') });
            expectClose(scaledDotProductAttention(qc, kc, vc, { causal: true, qSegments: seg(qSeg), kSegments: seg(kSeg) }), withSegments, toleranceFor(dtype), `${dtype} T ${T} D ${D} segments`);
          }
        }
      });
    });
  }

  it('attention forward and backward agree with the reference for 1, 2 and 3 threads', () => {
    const threads = cpuNumThreads();
    try {
      tidy(() => {
        // B * Hkv = 2 tasks: the backward splits keys into chunks whose query gradients are summed.
        const [qr, qc] = pair([1, 200, 4, 24], { seed: 1 });
        const [kr, kc] = pair([1, 300, 2, 24], { seed: 2 });
        const [vr, vc] = pair([1, 300, 2, 24], { seed: 3 });
        const [gr, gc] = pair([1, 200, 4, 24], { seed: 4 });
        const leaves = (ts: Tensor[]) => ts.map((t) => t.detach().requiresGrad_()) as [Tensor, Tensor, Tensor];
        const yr = scaledDotProductAttention(...leaves([qr, kr, vr]), { causal: true });
        const dr = gradsOf(yr, gr);
        for (const n of [1, 2, 3]) {
          setCpuNumThreads(n);
          const yc = scaledDotProductAttention(...leaves([qc, kc, vc]), { causal: true });
          expectClose(yc, yr, toleranceFor('f32'), `out with ${n} threads`);
          gradsOf(yc, gc).forEach((g, i) => expectClose(g!, dr[i]!, { atol: 2e-5, rtol: 2e-4 }, `grad ${i} with ${n} threads`));
        }
      });
    } finally {
      setCpuNumThreads(threads);
    }
  });

  it('row kernels on many rows use the thread pool and match a single thread', () => {
    const threads = cpuNumThreads();
    try {
      tidy(() => {
        const x = randomInput([513, 301], { dtype: 'f32', seed: 5 }).to('cpu');
        const run = () => {
          const out = tensor(new Float32Array(513 * 301), { device: 'cpu', shape: [513, 301] });
          getBackend('cpu').logSoftmax(x, out);
          return out.toFlatArray();
        };
        setCpuNumThreads(1);
        const one = run();
        setCpuNumThreads(2);
        expect(run()).toEqual(one);
      });
    } finally {
      setCpuNumThreads(threads);
    }
  });
});
