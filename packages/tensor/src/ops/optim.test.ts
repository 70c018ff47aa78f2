import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectClose, randomInput, toleranceFor } from '@lmflow/test-utils';
import { Generator, bf16ToF32, f16ToF32, f32ToBf16, f32ToF16, randn, setCpuSimdLevel, cpuSimdLevel, tensor, type DType, type Tensor } from '../index.js';
import { adamwUpdate, type AdamWUpdateOptions } from './optim.js';

// A tensor on `device` from host values; on cpu this needs only upload (no native fill or copy).
function hostTensor(values: ArrayLike<number>, dtype: DType, device: string): Tensor {
  const data = dtype === 'f64' ? Float64Array.from(values) : Float32Array.from(values);
  return tensor(data, { dtype, device });
}

function normals(n: number, seed: number, scale = 1): number[] {
  return randn([n], { device: 'reference', dtype: 'f64', generator: new Generator(seed) }).toFlatArray().map((x) => x * scale);
}

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

const hyper = { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1 };

interface State {
  param: Tensor;
  m: Tensor;
  v: Tensor;
  master: Tensor | null;
}

function makeState(p0: number[], dtype: DType, device: string, withMaster: boolean, stateDType: DType = 'f32'): State {
  const zeros = new Array<number>(p0.length).fill(0);
  const param = hostTensor(p0, dtype, device);
  return {
    param,
    m: hostTensor(zeros, stateDType, device),
    v: hostTensor(zeros, stateDType, device),
    // The master starts as the param's (rounded) values, as a trainer would cast it.
    master: withMaster ? hostTensor(param.toFlatArray(), 'f32', device) : null,
  };
}

function runSteps(state: State, grads: number[][], gradDType: DType, device: string): void {
  grads.forEach((g, i) => {
    const grad = hostTensor(g, gradDType, device);
    adamwUpdate(state.param, grad, state.m, state.v, { ...hyper, step: i + 1, master: state.master });
    grad.dispose();
  });
}

function dispose(state: State): void {
  for (const t of [state.param, state.m, state.v, state.master]) t?.dispose();
}

describe('adamwUpdate: golden values of torch.optim.AdamW', () => {
  // Computed with torch/optim/adamw.py's _single_tensor_adamw transcribed line by line to
  // Python floats (exp_avg.lerp_, exp_avg_sq.mul_().addcmul_(), denom = sqrt(v) / sqrt(bc2) + eps,
  // param.addcdiv_(exp_avg, denom, value=-lr / bc1)), lr 0.01, betas (0.9, 0.999), eps 1e-8,
  // weight_decay 0.1, three steps.
  const p0 = [1.0, -2.0, 0.5, 0.0];
  const grads = [
    [0.1, -0.2, 0.3, 1e-3],
    [-0.05, 0.4, 0.0, -2.0],
    [0.2, 0.2, -0.1, 0.5],
  ];
  const expected = [
    [0.9890000009999999, -1.9880000005, 0.4895000003333333, -0.009999900000999989],
    [0.9853476309393391, -1.989673035654104, 0.4823099181075821, -0.002551881462439322],
    [0.9777811678031988, -1.9928757705970124, 0.4789362547164865, 0.0014783672430091531],
  ];
  const expectedM = [0.023599999999999996, 0.039799999999999995, 0.014299999999999995, -0.129919];
  const expectedV = [5.2477510000000055e-5, 0.00023976004000000027, 9.982009000000009e-5, 0.004246000998001004];

  it('reference in float64 matches step by step', () => {
    const exact = makeState(p0, 'f64', 'reference', false, 'f64');
    grads.forEach((g, i) => {
      const grad = hostTensor(g, 'f64', 'reference');
      adamwUpdate(exact.param, grad, exact.m, exact.v, { ...hyper, step: i + 1 });
      grad.dispose();
      expectClose(exact.param, expected[i]!, toleranceFor('f64'), `param after step ${i + 1}`);
    });
    expectClose(exact.m, expectedM, toleranceFor('f64'), 'm');
    expectClose(exact.v, expectedV, toleranceFor('f64'), 'v');
    dispose(exact);
  });

  it('cpu in f32 matches within f32 rounding', () => {
    const state = makeState(p0, 'f32', 'cpu', false);
    runSteps(state, grads, 'f32', 'cpu');
    expectClose(state.param, expected[2]!, toleranceFor('f32'), 'param');
    expectClose(state.m, expectedM, toleranceFor('f32'), 'm');
    expectClose(state.v, expectedV, { atol: 1e-9, rtol: 1e-5 }, 'v');
    dispose(state);
  });

  it('matches the documented algorithm, written out here in float64, on random data', () => {
    // https://pytorch.org/docs/stable/generated/torch.optim.AdamW.html (amsgrad off, maximize off):
    //   theta_t = theta_{t-1} - gamma * lambda * theta_{t-1}
    //   m_t = beta1 m_{t-1} + (1 - beta1) g_t;  v_t = beta2 v_{t-1} + (1 - beta2) g_t^2
    //   m^_t = m_t / (1 - beta1^t);  v^_t = v_t / (1 - beta2^t)
    //   theta_t = theta_t - gamma m^_t / (sqrt(v^_t) + eps)
    const n = 57;
    const theta = normals(n, 21);
    const gradsN = [1, 2, 3, 4, 5].map((t) => normals(n, 21 + t, 0.1 * t));
    const m = new Array<number>(n).fill(0);
    const v = new Array<number>(n).fill(0);
    const { lr: gamma, weightDecay: lambda, beta1, beta2, eps } = hyper;
    gradsN.forEach((g, index) => {
      const t = index + 1;
      for (let i = 0; i < n; i++) {
        theta[i] = theta[i]! - gamma * lambda * theta[i]!;
        m[i] = beta1 * m[i]! + (1 - beta1) * g[i]!;
        v[i] = beta2 * v[i]! + (1 - beta2) * g[i]! ** 2;
        const mHat = m[i]! / (1 - beta1 ** t);
        const vHat = v[i]! / (1 - beta2 ** t);
        theta[i] = theta[i]! - (gamma * mHat) / (Math.sqrt(vHat) + eps);
      }
    });
    const ref = makeState(normals(n, 21), 'f64', 'reference', false, 'f64');
    runSteps(ref, gradsN, 'f64', 'reference');
    expectClose(ref.param, theta, toleranceFor('f64'), 'reference param');
    expectClose(ref.m, m, toleranceFor('f64'), 'reference m');
    expectClose(ref.v, v, toleranceFor('f64'), 'reference v');
    dispose(ref);
    const cpu = makeState(normals(n, 21), 'f32', 'cpu', false);
    runSteps(cpu, gradsN, 'f32', 'cpu');
    expectClose(cpu.param, theta, toleranceFor('f32'), 'cpu param');
    dispose(cpu);
  });

  it('first step moves each param by lr * sign(grad) after the decay (bias corrections cancel)', () => {
    // m-hat = g and v-hat = g^2 at step 1, so the update is lr * g / (|g| + eps).
    const p = normals(33, 5);
    const g = normals(33, 6);
    for (const device of ['reference', 'cpu']) {
      const state = makeState(p, 'f32', device, false);
      runSteps(state, [g], 'f32', device);
      const want = p.map((x, i) => Math.fround(x) * (1 - hyper.lr * hyper.weightDecay) - (hyper.lr * Math.fround(g[i]!)) / (Math.abs(Math.fround(g[i]!)) + hyper.eps));
      expectClose(state.param, want, toleranceFor('f32'), `${device} param`);
      dispose(state);
    }
  });
});

const LEVELS = ['avx512', 'avx2', 'scalar'] as const;
const SIZES = [1, 3, 17, 129, 20_000]; // 20000: two threads (16K grain) and every vector tail
const CASES: { param: DType; grad: DType; master: boolean }[] = [
  { param: 'f32', grad: 'f32', master: false },
  { param: 'bf16', grad: 'bf16', master: false },
  { param: 'f16', grad: 'f16', master: false },
  { param: 'bf16', grad: 'bf16', master: true },
  { param: 'f16', grad: 'f32', master: true },
  { param: 'f32', grad: 'bf16', master: true },
];

describe.each(LEVELS)('adamwUpdate: cpu (%s kernels) against the reference', (level) => {
  let saved = '';
  beforeAll(() => {
    saved = cpuSimdLevel();
    setCpuSimdLevel(level);
  });
  afterAll(() => {
    setCpuSimdLevel(saved as (typeof LEVELS)[number]);
  });

  it.each(CASES)('param $param, grad $grad, master $master: four steps on odd sizes', ({ param, grad, master }) => {
    for (const n of SIZES) {
      const p0 = normals(n, n);
      // Gradients of varied scale, including exact zeros, so eps and tiny v matter.
      const grads = [1, 2, 3, 4].map((s) => normals(n, 100 * n + s, 10 ** (s - 3)).map((x, i) => (i % 11 === 0 ? 0 : x)));
      const ref = makeState(p0, param, 'reference', master);
      const cpu = makeState(p0, param, 'cpu', master);
      runSteps(ref, grads, grad, 'reference');
      runSteps(cpu, grads, grad, 'cpu');
      const label = `n ${n}`;
      expectClose(cpu.param, ref.param, toleranceFor(param), `${label} param`);
      expectClose(cpu.m, ref.m, toleranceFor('f32'), `${label} m`);
      expectClose(cpu.v, ref.v, { atol: 1e-10, rtol: 1e-4 }, `${label} v`);
      if (master) {
        expectClose(cpu.master!, ref.master!, toleranceFor('f32'), `${label} master`);
        // param is exactly the master rounded to param's dtype, on both backends.
        for (const s of [cpu, ref]) {
          const round = param === 'bf16' ? (x: number) => bf16ToF32(f32ToBf16(x)) : param === 'f16' ? (x: number) => f16ToF32(f32ToF16(x)) : Math.fround;
          expectIdentical(s.param.toFlatArray(), s.master!.toFlatArray().map(round), `${label} param = rounded master`);
        }
      }
      dispose(ref);
      dispose(cpu);
    }
  });
});

describe('adamwUpdate: arguments', () => {
  const opts = (extra: Partial<AdamWUpdateOptions> = {}): AdamWUpdateOptions => ({ ...hyper, step: 1, ...extra });
  const make = (shape: number[], dtype: DType = 'f32') => randomInput(shape, { dtype });

  it('names the op and both shapes when grad or state does not match param', () => {
    const [p, g, m, v] = [make([3, 4]), make([4, 3]), make([3, 4]), make([3, 4])];
    expect(() => adamwUpdate(p, g, m, v, opts())).toThrow(/adamwUpdate: grad must have shape \[3, 4\], got .*\[4, 3\]/);
    expect(() => adamwUpdate(p, m, make([12]), v, opts())).toThrow(/adamwUpdate: m must have shape \[3, 4\], got .*\[12\]/);
    expect(() => adamwUpdate(p, m, v, v, opts())).toThrow(/adamwUpdate: m and v share memory/);
  });

  it('rejects low-precision moments, strided state and a non-leaf param', () => {
    const [p, g, v] = [make([8]), make([8]), make([8])];
    expect(() => adamwUpdate(p, g, make([8], 'bf16'), v, opts())).toThrow(/adamwUpdate: m must be f32, got .*bf16/);
    const strided = randomInput([8], { layout: 'strided' });
    expect(() => adamwUpdate(p, g, strided, v, opts())).toThrow(/adamwUpdate: m must be contiguous/);
    const leaf = make([8]).requiresGrad_();
    const computed = leaf.reshape(2, 4).reshape(8);
    expect(() => adamwUpdate(computed, g, make([8]), v, opts())).toThrow(/adamwUpdate: param .* was computed by "reshape"/);
    expect(() => adamwUpdate(p, g, make([8]), v, opts({ master: make([8], 'f16') }))).toThrow(/adamwUpdate: master must be f32/);
  });

  it('accepts state in disjoint slices of one flat buffer, not in overlapping ones', () => {
    const [p, g] = [make([8]), make([8])];
    const flat = hostTensor(new Array(16).fill(0), 'f32', 'reference');
    adamwUpdate(p, g, flat.slice(0, 0, 8), flat.slice(0, 8, 16), opts());
    // v got (1 - beta2) g^2 in the second half.
    const gv = g.toFlatArray();
    expectClose(flat.toFlatArray().slice(8), gv.map((x) => (1 - hyper.beta2) * x * x), toleranceFor('f32'), 'v');
    expect(() => adamwUpdate(p, g, flat.slice(0, 0, 8), flat.slice(0, 4, 12), opts())).toThrow(/adamwUpdate: m and v share memory/);
  });

  it('checks the hyperparameters', () => {
    const [p, g, m, v] = [make([4]), make([4]), make([4]), make([4])];
    expect(() => adamwUpdate(p, g, m, v, opts({ step: 0 }))).toThrow(/options.step is 0, expected an integer >= 1/);
    expect(() => adamwUpdate(p, g, m, v, opts({ beta1: 1 }))).toThrow(/options.beta1 is 1, expected a number in \[0, 1\)/);
    expect(() => adamwUpdate(p, g, m, v, opts({ lr: NaN }))).toThrow(/options.lr is NaN/);
    expect(() => adamwUpdate(p, g, m, v, opts({ weightDecay: -1 }))).toThrow(/options.weightDecay is -1/);
  });

  it('takes a strided grad through a contiguous copy (reference and cpu agree)', () => {
    const p0 = normals(6 * 5, 9);
    // grad (6, 5) is the transpose of a (5, 6) tensor: strided on both backends.
    const g5x6 = normals(30, 4);
    const results = ['reference', 'cpu'].map((device) => {
      const state = makeState(p0, 'f32', device, false);
      const param = state.param.reshape(6, 5);
      const m = state.m.reshape(6, 5);
      const v = state.v.reshape(6, 5);
      const source = hostTensor(g5x6, 'f32', device).reshape(5, 6);
      const grad = source.transpose();
      expect(grad.isContiguous()).toBe(false);
      adamwUpdate(param, grad, m, v, opts());
      const out = param.toFlatArray();
      for (const t of [param, m, v, source, grad]) t.dispose();
      dispose(state);
      return out;
    });
    // The contiguous copy of the transposed view is what both must have used.
    const g = Array.from({ length: 30 }, (_, i) => Math.fround(g5x6[(i % 5) * 6 + Math.floor(i / 5)]!));
    const want = p0.map((x, i) => Math.fround(x) * (1 - hyper.lr * hyper.weightDecay) - (hyper.lr * g[i]!) / (Math.abs(g[i]!) + hyper.eps));
    expectClose(results[0]!, want, toleranceFor('f32'), 'reference');
    expectClose(results[1]!, want, toleranceFor('f32'), 'cpu');
  });
});
