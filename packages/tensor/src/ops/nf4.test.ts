import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectClose, gradCheck, toleranceFor } from '@lmflow/test-utils';
import { Generator, cpuSimdLevel, getBackend, liveTensorCount, randn, setCpuSimdLevel, tensor, tidy, type DType, type Tensor } from '../index.js';
import { NF4_CODEBOOK, NF4_MAX_HALF_GAP, NF4_MIDPOINTS } from '../quant/nf4-codebook.js';
import { NF4_ABSMAX_GROUP, NF4_BLOCK_SIZE, dequantizeAbsmax } from '../quant/nf4-format.js';
import { dequantizeNf4, nf4BitsPerWeight, nf4Linear, nf4TensorFromParts, quantizeNf4, type Nf4Tensor } from './nf4.js';

const LEVELS = ['avx512', 'avx2', 'scalar'] as const;

/** Exact equality of two long arrays, failing with the first mismatch (not a huge diff). */
function expectIdentical(actual: ArrayLike<number>, expected: ArrayLike<number>, label: string): void {
  expect(actual.length, `${label}: length`).toBe(expected.length);
  let mismatches = 0;
  let first = -1;
  for (let i = 0; i < expected.length; i++) {
    if (!Object.is(actual[i], expected[i])) {
      mismatches++;
      if (first < 0) first = i;
    }
  }
  expect(mismatches === 0 ? 'identical' : `${mismatches} differ; first [${first}]: ${actual[first]} vs ${expected[first]}`, label).toBe('identical');
}
const FLOATS: DType[] = ['f32', 'bf16', 'f16'];

function hostTensor(values: ArrayLike<number>, dtype: DType, device: string, shape?: number[]): Tensor {
  const data = dtype === 'f64' ? Float64Array.from(values) : Float32Array.from(values);
  return tensor(data, { dtype, device, shape: shape ?? [values.length] });
}

function normals(n: number, seed: number): number[] {
  return randn([n], { device: 'reference', dtype: 'f64', generator: new Generator(seed) }).toFlatArray();
}

/**
 * Weight values with a spread of block scales (rows scaled from 0.01 to 10), so the double
 * quantization of absmax has real work, and optionally an all-zero first block.
 */
function weightValues(n: number, k: number, seed: number, zeroBlock: boolean): number[] {
  const values = normals(n * k, seed).map((x, e) => x * 10 ** (((Math.floor(e / k) * 7) % 5) - 2 + (e % 3) / 3));
  if (zeroBlock) values.fill(0, 0, NF4_BLOCK_SIZE);
  return values;
}

/** The weight as float64 on the host, decoded from the parts with the format's own formulas. */
function hostDecode(q: Nf4Tensor): { values: number[]; absmax: number[] } {
  const codes = q.codes.toFlatArray();
  const absmaxCodes = q.absmaxCodes.toFlatArray();
  const scales = q.absmaxScales.toFlatArray();
  const length = q.shape[0] * q.shape[1];
  const absmax = Array.from({ length: length / NF4_BLOCK_SIZE }, (_, b) => dequantizeAbsmax(q.absmaxOffset, absmaxCodes, scales, b));
  const values = Array.from({ length }, (_, e) => {
    const byte = codes[e >> 1]!;
    return NF4_CODEBOOK[e & 1 ? byte & 15 : byte >> 4]! * absmax[Math.floor(e / NF4_BLOCK_SIZE)]!;
  });
  return { values, absmax };
}

function codeOf(q: Nf4Tensor, codes: number[], e: number): number {
  void q;
  const byte = codes[e >> 1]!;
  return e & 1 ? byte & 15 : byte >> 4;
}

function withLevel(level: (typeof LEVELS)[number]): void {
  let saved = '';
  beforeAll(() => {
    saved = cpuSimdLevel();
    setCpuSimdLevel(level);
  });
  afterAll(() => {
    setCpuSimdLevel(saved as (typeof LEVELS)[number]);
  });
}

const SHAPES: [number, number][] = [
  [1, 64],
  [3, 64],
  [17, 128],
  [129, 64],
  [64, 33],
];

describe.each(['reference', 'cpu'])('quantizeNf4 / dequantizeNf4 on %s: error within the codebook bound', (device) => {
  it.each(FLOATS)('%s weights', (dtype) => {
    let worst = 0;
    SHAPES.forEach(([n, k], s) => {
      const w = hostTensor(weightValues(n, k, 10 + s, s % 2 === 0), dtype, device, [n, k]);
      const x = w.toFlatArray(); // the values as stored in dtype
      const q = quantizeNf4(w);
      expect(q.shape).toEqual([n, k]);
      expect(q.dtype).toBe(dtype);
      const { values: decoded, absmax: absmaxDq } = hostDecode(q);
      const codes = q.codes.toFlatArray();
      const scales = q.absmaxScales.toFlatArray();
      // The kernel's dequantization is the format's decode (f64 on reference, f32 on cpu).
      const deq = dequantizeNf4(q, device === 'reference' ? 'f64' : 'f32');
      expectClose(deq, decoded, device === 'reference' ? toleranceFor('f64') : { atol: 1e-30, rtol: 2 ** -23 } /* two roundings: absmax, product */, `${n}x${k} dequantize`);
      const deqValues = deq.toFlatArray();
      // Violations are collected and asserted once (an expect per element is slow).
      const violations: string[] = [];
      for (let b = 0; b < x.length / NF4_BLOCK_SIZE; b++) {
        let absmax = 0;
        for (let e = b * NF4_BLOCK_SIZE; e < (b + 1) * NF4_BLOCK_SIZE; e++) absmax = Math.max(absmax, Math.abs(x[e]!));
        // Double quantization: within half an 8-bit step of the group's scale.
        const absmaxError = Math.abs(absmax - absmaxDq[b]!);
        const step = scales[Math.floor(b / NF4_ABSMAX_GROUP)]! / 127;
        if (!(absmaxError <= step / 2 + 1e-12 * absmax)) violations.push(`block ${b}: absmax ${absmax} stored as ${absmaxDq[b]}, step ${step}`);
        for (let e = b * NF4_BLOCK_SIZE; e < (b + 1) * NF4_BLOCK_SIZE; e++) {
          if (absmax > 0) {
            // The stored code is a nearest codebook value of x / absmax.
            const r = x[e]! / absmax;
            const code = codeOf(q, codes, e);
            const chosen = Math.abs(r - NF4_CODEBOOK[code]!);
            if (NF4_CODEBOOK.some((c) => Math.abs(r - c) + 1e-15 < chosen)) violations.push(`element ${e}: x / absmax ${r} got code ${code}`);
          }
          // |x - deq| <= absmax * (max half gap) + |absmax - absmax_dq|, plus deq's own rounding.
          const bound = absmax * NF4_MAX_HALF_GAP + absmaxError + Math.abs(deqValues[e]!) * 2 ** -23;
          const error = Math.abs(x[e]! - deqValues[e]!);
          worst = Math.max(worst, error / (bound || 1));
          if (!(error <= bound)) violations.push(`element ${e}: |${x[e]} - ${deqValues[e]}| > bound ${bound}`);
        }
      }
      expect(violations.slice(0, 5), `${n}x${k}`).toEqual([]);
      w.dispose();
      q.dispose();
      deq.dispose();
    });
    // The bound is not vacuous: some element gets a good part of the way to it.
    expect(worst).toBeGreaterThan(0.25);
  });
});

describe.each(LEVELS)('quantizeNf4: cpu (%s kernels) and reference store identical parts', (level) => {
  withLevel(level);
  it.each(FLOATS)('%s weights, 300 blocks (two scale groups), a zero block and exact ties', (dtype) => {
    const n = 150;
    const k = 128;
    const values = weightValues(n, k, 77, true);
    // Block 1: absmax exactly 1 and every midpoint that is exact in float32, so x / absmax
    // lands exactly on a decision boundary and must take the lower code.
    const ties = NF4_MIDPOINTS.map((mid, i) => ({ mid, i })).filter(({ mid }) => Math.fround(mid) === mid);
    expect(ties.length).toBeGreaterThan(2);
    values.fill(0.5, 64, 128);
    values[64] = 1;
    ties.forEach(({ mid }, j) => (values[65 + j] = mid));
    const cpu = quantizeNf4(hostTensor(values, dtype, 'cpu', [n, k]));
    const ref = quantizeNf4(hostTensor(values, dtype, 'reference', [n, k]));
    expectIdentical(cpu.codes.toFlatArray(), ref.codes.toFlatArray(), 'codes');
    expectIdentical(cpu.absmaxCodes.toFlatArray(), ref.absmaxCodes.toFlatArray(), 'absmaxCodes');
    expectIdentical(cpu.absmaxScales.toFlatArray(), ref.absmaxScales.toFlatArray(), 'absmaxScales');
    expect(cpu.absmaxOffset).toBe(ref.absmaxOffset);
    expect(cpu.absmaxScales.size).toBe(2);
    const codes = cpu.codes.toFlatArray();
    if (dtype !== 'bf16') {
      // (bf16 rounds most midpoints away from the boundary; f32 and f16 keep these.)
      ties.forEach(({ mid, i }, j) => {
        if (Math.fround(mid) === mid && hostTensor([mid], dtype, 'reference').toFlatArray()[0] === mid) {
          expect(codeOf(cpu, codes, 65 + j)).toBe(i);
        }
      });
    }
    // The zero block stores only the zero code.
    for (let e = 0; e < 64; e++) expect(codeOf(cpu, codes, e)).toBe(7);
    // Dequantization into each output dtype agrees with the reference's float64 values.
    const exact = dequantizeNf4(ref, 'f64');
    for (const out of FLOATS) {
      const tol = out === 'f32' ? { atol: 1e-30, rtol: 2 ** -23 } : toleranceFor(out);
      expectClose(dequantizeNf4(cpu, out), exact, tol, `dequantize to ${out}`);
    }
    expect(dequantizeNf4(cpu).dtype).toBe(dtype);
  });
});

// out0 is the initial out (for beta != 0); x and out are (M, inner) and (M, cols).
function expectedMatmul(x: number[], w: number[], out0: number[] | null, M: number, N: number, K: number, transposeW: boolean, alpha: number, beta: number): number[] {
  const inner = transposeW ? K : N;
  const cols = transposeW ? N : K;
  const out = new Array<number>(M * cols);
  for (let m = 0; m < M; m++) {
    for (let j = 0; j < cols; j++) {
      let sum = 0;
      for (let i = 0; i < inner; i++) sum += x[m * inner + i]! * (transposeW ? w[j * K + i]! : w[i * K + j]!);
      out[m * cols + j] = alpha * sum + (out0 ? beta * out0[m * cols + j]! : 0);
    }
  }
  return out;
}

// (N, K, M): odd sizes, K not a multiple of the vector width, M spanning partial tiles and task
// splits; M >= 128 takes the forward's transposed-panel path.
const MATMUL_CASES: [number, number, number][] = [
  [1, 64, 1],
  [3, 64, 17],
  [17, 128, 3],
  [129, 64, 5],
  [64, 33, 7],
  [33, 64, 130],
  [64, 33, 128],
];

function checkMatmul(device: string, dtype: DType, N: number, K: number, M: number, transposeW: boolean): void {
  const backend = getBackend(device);
  // Unit-scale weights: with O(1) outputs a relative tolerance means the same at every size.
  const wValues = normals(N * K, N * 1000 + K);
  const q = quantizeNf4(hostTensor(wValues, 'f32', device, [N, K]));
  // Expected from the reference's float64 dequantization of the same parts, multiplied here.
  const qRef = nf4TensorFromParts({ ...q, codes: q.codes.to('reference'), absmaxCodes: q.absmaxCodes.to('reference'), absmaxScales: q.absmaxScales.to('reference') });
  const w64 = dequantizeNf4(qRef, 'f64');
  const w = w64.toFlatArray();
  const inner = transposeW ? K : N;
  const cols = transposeW ? N : K;
  // Scaled so outputs are O(1) and a relative tolerance means the same at every size.
  const x = hostTensor(normals(M * inner, M + inner).map((v) => v / Math.sqrt(inner)), dtype, device, [M, inner]);
  const xValues = x.toFlatArray();
  const weight = { codes: q.codes, absmaxCodes: q.absmaxCodes, absmaxScales: q.absmaxScales, absmaxOffset: q.absmaxOffset };
  const tol = device === 'reference' ? toleranceFor('f64') : toleranceFor(dtype);
  const label = `${device} ${dtype} N ${N} K ${K} M ${M} transposeW ${transposeW}`;

  // beta = 0 must ignore whatever out holds, NaN included.
  const out = hostTensor(new Array<number>(M * cols).fill(NaN), dtype, device, [M, cols]);
  backend.nf4Matmul(x, weight, out, { alpha: 1, beta: 0, transposeW });
  expectClose(out, expectedMatmul(xValues, w, null, M, N, K, transposeW, 1, 0), tol, `${label} beta 0`);

  // alpha and beta: out = 0.75 x @ op(W) + 0.5 out.
  const out0 = normals(M * cols, 3);
  const acc = hostTensor(out0, dtype, device, [M, cols]);
  const out0Values = acc.toFlatArray();
  backend.nf4Matmul(x, weight, acc, { alpha: 0.75, beta: 0.5, transposeW });
  expectClose(acc, expectedMatmul(xValues, w, out0Values, M, N, K, transposeW, 0.75, 0.5), tol, `${label} alpha 0.75 beta 0.5`);
  for (const t of [x, out, acc, w64]) t.dispose();
  q.dispose();
  qRef.dispose();
}

describe('nf4Matmul on the reference backend (float64)', () => {
  it('matches dequantize-then-matmul in both directions', () => {
    for (const [N, K, M] of MATMUL_CASES.slice(0, 5)) {
      checkMatmul('reference', 'f64', N, K, M, true);
      checkMatmul('reference', 'f64', N, K, M, false);
    }
  });
});

describe.each(LEVELS)('nf4Matmul on cpu (%s kernels)', (level) => {
  withLevel(level);
  it.each(FLOATS)('x and out %s: forward (x @ W^T) and input gradient (x @ W) against float64', (dtype) => {
    for (const [N, K, M] of MATMUL_CASES) {
      checkMatmul('cpu', dtype, N, K, M, true);
      checkMatmul('cpu', dtype, N, K, M, false);
    }
  });
});

describe('nf4Linear', () => {
  // W (5, 64) f64 on the reference backend; x (2, 3, 64); bias (5).
  const makeQ = (device: string, dtype: DType = 'f64') => quantizeNf4(hostTensor(weightValues(5, 64, 42, false), dtype, device, [5, 64]));

  it('computes x @ W^T + bias with the dequantized weight', () => {
    for (const device of ['reference', 'cpu']) {
      const dtype = device === 'reference' ? 'f64' : 'f32';
      const q = makeQ(device, dtype);
      const w = hostDecode(q).values;
      const x = hostTensor(normals(2 * 3 * 64, 1), dtype, device, [2, 3, 64]);
      const bias = hostTensor(normals(5, 2), dtype, device);
      const b = bias.toFlatArray();
      const want = expectedMatmul(x.toFlatArray(), w, null, 6, 5, 64, true, 1, 0).map((v, i) => v + b[i % 5]!);
      const y = nf4Linear(x, q);
      expect(y.shape).toEqual([2, 3, 5]);
      expectClose(y, expectedMatmul(x.toFlatArray(), w, null, 6, 5, 64, true, 1, 0), toleranceFor(dtype), `${device} no bias`);
      expectClose(nf4Linear(x, q, bias), want, toleranceFor(dtype), `${device} with bias`);
      q.dispose();
    }
  });

  it('takes strided x and a transposed weight through contiguous copies', () => {
    for (const device of ['reference', 'cpu']) {
      // W (5, 64) given as the transpose of a (64, 5) tensor; x (3, 64) as a transposed view.
      const wValues = weightValues(5, 64, 42, false);
      const wT = hostTensor(Array.from({ length: 320 }, (_, i) => wValues[(i % 5) * 64 + Math.floor(i / 5)]!), 'f32', device, [64, 5]);
      const q = quantizeNf4(wT.transpose());
      const qDirect = makeQ(device, 'f32');
      expectIdentical(q.codes.toFlatArray(), qDirect.codes.toFlatArray(), `${device} codes of the transposed weight`);
      const xValues = normals(3 * 64, 12);
      const xT = hostTensor(Array.from({ length: 192 }, (_, i) => xValues[(i % 3) * 64 + Math.floor(i / 3)]!), 'f32', device, [64, 3]).transpose();
      expect(xT.isContiguous()).toBe(false);
      const want = expectedMatmul(xValues.map(Math.fround), hostDecode(q).values, null, 3, 5, 64, true, 1, 0);
      expectClose(nf4Linear(xT, q), want, toleranceFor('f32'), `${device} strided x`);
      q.dispose();
      qDirect.dispose();
    }
  });

  it('passes gradCheck for x (float64, reference)', () => {
    const q = makeQ('reference');
    const x = hostTensor(normals(2 * 3 * 64, 3), 'f64', 'reference', [2, 3, 64]);
    gradCheck((xi) => nf4Linear(xi, q), [x], { maxElements: 64 });
    q.dispose();
  });

  it('passes gradCheck for x and bias (float64, reference)', () => {
    const q = makeQ('reference');
    const x = hostTensor(normals(2 * 3 * 64, 4), 'f64', 'reference', [2, 3, 64]);
    const bias = hostTensor(normals(5, 5), 'f64', 'reference');
    gradCheck((xi, bi) => nf4Linear(xi, q, bi), [x, bias], { maxElements: 64 });
    q.dispose();
  });

  it('gives the same gradients on cpu as on the reference', () => {
    const grads = ['reference', 'cpu'].map((device) => {
      const q = makeQ(device, 'f32');
      const x = hostTensor(normals(4 * 7 * 64, 6), 'f32', device, [4, 7, 64]).requiresGrad_();
      const bias = hostTensor(normals(5, 7), 'f32', device).requiresGrad_();
      const dy = hostTensor(normals(4 * 7 * 5, 8), 'f32', device, [4, 7, 5]);
      nf4Linear(x, q, bias).backward({ gradient: dy });
      const result = [x.grad!.toFlatArray(), bias.grad!.toFlatArray()];
      for (const t of [x, bias, dy]) t.dispose();
      q.dispose();
      return result;
    });
    expectClose(grads[1]![0]!, grads[0]![0]!, toleranceFor('f32'), 'dx');
    expectClose(grads[1]![1]!, grads[0]![1]!, toleranceFor('f32'), 'dbias');
  });

  it('keeps the weight usable by backward after the Nf4Tensor is disposed', () => {
    const q = makeQ('reference');
    const x = hostTensor(normals(64, 9), 'f64', 'reference', [1, 64]).requiresGrad_();
    const y = nf4Linear(x, q);
    const before = liveTensorCount();
    q.dispose();
    expect(() => nf4Linear(x, q)).toThrow(/nf4Linear: the NF4 weight \[5, 64\] was disposed/);
    y.backward({ gradient: hostTensor([1, 0, 0, 0, 0], 'f64', 'reference', [1, 5]) });
    // dx = dY @ W: the first row of W.
    expectClose(x.grad!, hostDecode(makeQ('reference')).values.slice(0, 64), toleranceFor('f64'), 'dx');
    expect(liveTensorCount()).toBeLessThanOrEqual(before + 4);
  });
});

describe('NF4 storage and arguments', () => {
  it('stores ~4.127 bits per weight for a 1024 x 1024 weight', () => {
    const values = new Float32Array(1024 * 1024);
    // A cheap deterministic fill (an LCG): the size matters here, not the distribution.
    let state = 12345;
    for (let i = 0; i < values.length; i++) {
      state = (state * 1103515245 + 12345) >>> 0;
      values[i] = state / 2 ** 32 - 0.5;
    }
    const q = quantizeNf4(tensor(values, { device: 'cpu', shape: [1024, 1024] }));
    const L = 1024 * 1024;
    expect(q.codes.size).toBe(L / 2);
    expect(q.absmaxCodes.size).toBe(L / 64);
    expect(q.absmaxScales.size).toBe(64);
    expect(nf4BitsPerWeight(q)).toBeCloseTo((4 * L + 8 * (L / 64) + 32 * 64 + 32) / L, 12);
    expect(nf4BitsPerWeight(q)).toBeCloseTo(4.127, 3);
    q.dispose();
  });

  it('names the op, the argument and the shapes in its errors', () => {
    const ref = { device: 'reference' };
    expect(() => quantizeNf4(tensor([1, 2, 3], ref))).toThrow(/quantizeNf4: weight must have 2 dimensions \(N, K\), got .*\[3\]/);
    expect(() => quantizeNf4(hostTensor(new Array(3 * 20).fill(1), 'f32', 'reference', [3, 20]))).toThrow(
      /quantizeNf4: the number of elements of .*\[3, 20\].* must be a positive multiple of 64 \(the NF4 block size\), got 60/,
    );
    expect(() => quantizeNf4(tensor(new Int32Array(64), { ...ref, dtype: 'i32', shape: [1, 64] }))).toThrow(/quantizeNf4: expected a floating tensor/);
    const q = quantizeNf4(hostTensor(normals(128, 1), 'f32', 'reference', [2, 64]));
    expect(() => nf4Linear(hostTensor(normals(3 * 32, 1), 'f32', 'reference', [3, 32]), q)).toThrow(
      /nf4Linear: x must have shape \(\.\.\., 64\) to multiply an NF4 weight of shape \[2, 64\], got .*\[3, 32\]/,
    );
    const x = hostTensor(normals(64, 1), 'f32', 'reference', [1, 64]);
    expect(() => nf4Linear(x, q, hostTensor([1, 2, 3], 'f32', 'reference'))).toThrow(/nf4Linear: bias must have shape \[2\] .*weight \[2, 64\].*got .*\[3\]/);
    expect(() => nf4Linear(x, q, hostTensor([1, 2], 'bf16', 'reference'))).toThrow(/nf4Linear: dtypes differ/);
    const qCpu = quantizeNf4(hostTensor(normals(128, 1), 'f32', 'cpu', [2, 64]));
    expect(() => dequantizeNf4(qCpu, 'f64')).toThrow(/nf4Dequantize: out must be f32, bf16 or f16, got f64 \[2, 64\] \(f64 is for the reference backend/);
    expect(() => nf4Linear(hostTensor(normals(64, 1), 'f32', 'cpu', [1, 64]), q)).toThrow(/nf4Linear: inputs are on different devices/);
    qCpu.dispose();
    expect(() => nf4TensorFromParts({ ...q, absmaxCodes: q.codes })).toThrow(/nf4TensorFromParts: absmaxCodes of an NF4 weight of shape \[2, 64\] must be a contiguous 1-D u8 tensor of 2 elements, got .*\[64\]/);
    q.dispose();
  });

  it('cpu kernels check the parts against the operand shapes', () => {
    const q = quantizeNf4(hostTensor(normals(5 * 64, 1), 'f32', 'cpu', [5, 64]));
    const weight = { codes: q.codes, absmaxCodes: q.absmaxCodes, absmaxScales: q.absmaxScales, absmaxOffset: q.absmaxOffset };
    const x = hostTensor(normals(2 * 64, 2), 'f32', 'cpu', [2, 64]);
    // out (2, 4) implies W (4, 64): 128 code bytes, not the 160 of a (5, 64) weight.
    const out = hostTensor(new Array(8).fill(0), 'f32', 'cpu', [2, 4]);
    expect(() => getBackend('cpu').nf4Matmul(x, weight, out, { alpha: 1, beta: 0, transposeW: true })).toThrow(
      /nf4Matmul: weight.codes must have 128 elements, got u8 \[160\]/,
    );
    const rows = hostTensor(new Array(15).fill(0), 'f32', 'cpu', [3, 5]);
    expect(() => getBackend('cpu').nf4Matmul(x, weight, rows, { alpha: 1, beta: 0, transposeW: true })).toThrow(
      /nf4Matmul: x f32 \[2, 64\] and out f32 \[3, 5\] must have the same number of rows/,
    );
    const small = hostTensor(new Array(64).fill(0), 'f32', 'cpu', [1, 64]);
    expect(() => getBackend('cpu').nf4Quantize(small, weight)).toThrow(/nf4Quantize: into.codes must have 32 elements, got u8 \[160\]/);
    q.dispose();
  });

  it('belongs to tidy scopes like a tensor', () => {
    const before = liveTensorCount();
    tidy(() => {
      quantizeNf4(hostTensor(normals(128, 1), 'f32', 'reference', [2, 64]));
    });
    expect(liveTensorCount()).toBe(before);
    const kept = tidy(() => quantizeNf4(hostTensor(normals(128, 1), 'f32', 'reference', [2, 64])));
    expect(kept.isDisposed).toBe(false);
    expect(liveTensorCount()).toBe(before + 3);
    expect(dequantizeNf4(kept).shape).toEqual([2, 64]);
    kept.dispose();
    expect(kept.isDisposed).toBe(true);
  });
});
