import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Generator, bf16ToF32, f32ToBf16, liveTensorCount, noGrad, randn, tensor, tidy, type DType, type Tensor } from '@lmflow/tensor';
import type { ParamGroup } from '@lmflow/core';
import { createAdamW, type AdamWOptions } from './adamw.js';
import { loadTensorState, saveTensorState } from '../checkpoint/tensor-state.js';

const dir = mkdtempSync(join(tmpdir(), 'lmflow-adamw-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Three parameters of odd shapes; "c" gets no gradient at step 1 (its own step count lags).
const SHAPES: Record<string, number[]> = { 'layers.0.w': [3, 5], 'layers.0.b': [7], 'c': [2, 3] };

function makeParams(dtype: DType): Map<string, Tensor> {
  return new Map(Object.entries(SHAPES).map(([name, shape], i) => [name, randn(shape, { dtype, device: 'cpu', generator: new Generator(100 + i) }).requiresGrad_()]));
}

/** Gradients of step t (1-based), in the parameter's dtype; "c" has none at step 1. */
function setGrads(params: Map<string, Tensor>, t: number): void {
  [...params].forEach(([name, p], i) => {
    p.grad?.dispose();
    p.grad = name === 'c' && t === 1 ? null : randn(p.shape, { dtype: p.dtype, device: 'cpu', generator: new Generator(1000 * t + i), std: 0.1 * t });
  });
}

// Group 0: w (weight decay 0.1, the run's lr x 2); group 1: b and c (no decay, absolute lr 0.05).
function groups(params: Map<string, Tensor>): ParamGroup[] {
  return [
    { params: [['layers.0.w', params.get('layers.0.w')!]], options: { weightDecay: 0.1, lrScale: 2 } },
    { params: [['layers.0.b', params.get('layers.0.b')!], ['c', params.get('c')!]], options: { weightDecay: 0, lr: 0.05 } },
  ];
}

const OPTIONS: AdamWOptions = { lr: 0.01, beta1: 0.9, beta2: 0.95, eps: 1e-8 };
/** The scheduler's learning rate at step t: changes every step, as with warmup. */
const lrAt = (t: number) => 0.01 * (t / 4);

/**
 * torch/optim/adamw.py's _single_tensor_adamw (amsgrad and maximize off), transcribed to float64:
 *   step += 1; param *= 1 - lr * wd; exp_avg.lerp_(grad, 1 - beta1)
 *   exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
 *   denom = sqrt(exp_avg_sq) / sqrt(1 - beta2^step) + eps
 *   param.addcdiv_(exp_avg, denom, value=-lr / (1 - beta1^step))
 */
function torchAdamW(theta: number[], m: number[], v: number[], grad: number[], step: number, o: { lr: number; wd: number; beta1: number; beta2: number; eps: number }): void {
  const bc1 = 1 - o.beta1 ** step;
  const bc2Sqrt = Math.sqrt(1 - o.beta2 ** step);
  for (let i = 0; i < theta.length; i++) {
    theta[i] = theta[i]! * (1 - o.lr * o.wd);
    m[i] = m[i]! + (grad[i]! - m[i]!) * (1 - o.beta1);
    v[i] = v[i]! * o.beta2 + (1 - o.beta2) * grad[i]! * grad[i]!;
    const denom = Math.sqrt(v[i]!) / bc2Sqrt + o.eps;
    theta[i] = theta[i]! - (o.lr / bc1) * (m[i]! / denom);
  }
}

function expectNear(actual: number[], expected: number[], tol: { atol: number; rtol: number }, label: string): void {
  expect(actual.length, label).toBe(expected.length);
  let worst = 0;
  let at = -1;
  actual.forEach((a, i) => {
    const excess = Math.abs(a - expected[i]!) - (tol.atol + tol.rtol * Math.abs(expected[i]!));
    if (excess > worst) [worst, at] = [excess, i];
  });
  expect(at < 0 ? 'close' : `[${at}] ${actual[at]} vs ${expected[at]}`, label).toBe('close');
}

function snapshot(params: Map<string, Tensor>): Map<string, number[]> {
  return new Map([...params].map(([name, p]) => [name, p.toFlatArray()]));
}

describe('AdamW against a float64 transcription of torch.optim.AdamW', () => {
  it.each(['f32', 'bf16'] as const)('%s parameters, two groups, a changing lr, a late-starting parameter', (dtype) => {
    const params = makeParams(dtype);
    const opt = createAdamW(groups(params), OPTIONS);
    // The oracle updates the f32 master (the param itself when f32), starting from the same values.
    const ref = new Map([...params].map(([name, p]) => [name, { theta: p.toFlatArray(), m: new Array(p.size).fill(0), v: new Array(p.size).fill(0), step: 0 }]));
    const groupOf = (name: string) => (name === 'layers.0.w' ? { scale: 2, wd: 0.1, abs: null } : { scale: 1, wd: 0, abs: 0.05 });
    for (let t = 1; t <= 5; t++) {
      setGrads(params, t);
      opt.setLearningRate(lrAt(t));
      for (const [name, p] of params) {
        if (!p.grad) continue;
        const r = ref.get(name)!;
        const g = groupOf(name);
        const lr = g.abs === null ? lrAt(t) * g.scale : g.abs * (lrAt(t) / OPTIONS.lr!);
        torchAdamW(r.theta, r.m, r.v, p.grad.toFlatArray(), ++r.step, { lr, wd: g.wd, beta1: 0.9, beta2: 0.95, eps: 1e-8 });
      }
      opt.step();
      opt.zeroGrad();
    }
    expect(opt.groupLearningRates()).toEqual([lrAt(5) * 2, 0.05 * (lrAt(5) / 0.01)]);
    const state = opt.stateDict();
    for (const [name, p] of params) {
      const r = ref.get(name)!;
      expect(state.get(`${name}.step`), `${name}.step`).toBe(name === 'c' ? 4 : 5);
      // f32 arithmetic in the kernel: a few ulps per step.
      expectNear((state.get(`${name}.exp_avg`) as Tensor).toFlatArray(), r.m, { atol: 1e-8, rtol: 1e-5 }, `${name}.exp_avg`);
      expectNear((state.get(`${name}.exp_avg_sq`) as Tensor).toFlatArray(), r.v, { atol: 1e-10, rtol: 1e-5 }, `${name}.exp_avg_sq`);
      if (dtype === 'f32') {
        expect(state.has(`${name}.master`)).toBe(false);
        expectNear(p.toFlatArray(), r.theta, { atol: 1e-6, rtol: 1e-5 }, `${name} param`);
      } else {
        const master = (state.get(`${name}.master`) as Tensor).toFlatArray();
        expect((state.get(`${name}.master`) as Tensor).dtype).toBe('f32');
        expectNear(master, r.theta, { atol: 1e-6, rtol: 1e-5 }, `${name} master`);
        // The bf16 parameter is exactly its master rounded to bf16.
        expect(p.toFlatArray()).toEqual(master.map((x) => bf16ToF32(f32ToBf16(x))));
      }
      expect(p.grad).toBeNull();
    }
    opt.dispose();
  });

  it('without master weights a bf16 parameter loses updates smaller than its rounding step', () => {
    const make = () => {
      const p = randn([64], { dtype: 'bf16', device: 'cpu', generator: new Generator(7) }).add(8).requiresGrad_();
      return p;
    };
    const [withMaster, without] = [make(), make()];
    const start = without.toFlatArray();
    const a = createAdamW([{ params: [['p', withMaster]], options: {} }], { lr: 1e-4, weightDecay: 0 });
    const b = createAdamW([{ params: [['p', without]], options: {} }], { lr: 1e-4, weightDecay: 0, masterWeights: false });
    for (let t = 1; t <= 3; t++) {
      // The same positive gradient every step: bias-corrected m / sqrt(v) is then 1, each update is lr.
      for (const p of [withMaster, without]) p.grad = randn([64], { dtype: 'bf16', device: 'cpu', generator: new Generator(1) }).abs().add(0.5);
      a.step();
      b.step();
      a.zeroGrad();
      b.zeroGrad();
    }
    // Around 8, a bf16 step is 2^-5 or 2^-4: updates of 1e-4 vanish without a master copy.
    expect(without.toFlatArray()).toEqual(start);
    const master = (a.stateDict().get('p.master') as Tensor).toFlatArray();
    expectNear(master, start.map((x) => x - 3e-4), { atol: 1e-6, rtol: 0 }, 'master moved by 3 lr');
    a.dispose();
    b.dispose();
  });
});

describe('AdamW state', () => {
  it.each(['f32', 'bf16'] as const)('%s: saved after 3 steps to a file and loaded into a new optimizer, continues bitwise', async (dtype) => {
    const total = 6;
    const run = (params: Map<string, Tensor>, opt: ReturnType<typeof createAdamW>, from: number, to: number) => {
      for (let t = from; t <= to; t++) {
        setGrads(params, t);
        opt.setLearningRate(lrAt(t));
        opt.step();
        opt.zeroGrad();
      }
    };
    const straight = makeParams(dtype);
    const a = createAdamW(groups(straight), OPTIONS);
    run(straight, a, 1, total);

    const first = makeParams(dtype);
    const b = createAdamW(groups(first), OPTIONS);
    run(first, b, 1, 3);
    const file = join(dir, `adamw-${dtype}.safetensors`);
    await saveTensorState(file, b.stateDict());
    const weights = snapshot(first);
    b.dispose();

    // A fresh process: new parameters holding the saved weights, a new optimizer, the state from disk.
    const resumed = makeParams(dtype);
    noGrad(() => {
      for (const [name, p] of resumed) p.copy_(tensor(weights.get(name)!, { shape: p.shape, dtype: p.dtype, device: 'cpu' }));
    });
    const c = createAdamW(groups(resumed), OPTIONS);
    const loaded = await loadTensorState(file, { device: 'cpu' });
    c.loadStateDict(loaded);
    for (const v of loaded.values()) if (typeof v !== 'number') v.dispose();
    run(resumed, c, 4, total);

    expect(snapshot(resumed)).toEqual(snapshot(straight));
    const [sa, sc] = [a.stateDict(), c.stateDict()];
    expect([...sc.keys()].sort()).toEqual([...sa.keys()].sort());
    for (const [key, value] of sa) {
      const other = sc.get(key)!;
      expect(typeof value === 'number' ? value : value.toFlatArray(), key).toEqual(typeof other === 'number' ? other : other.toFlatArray());
    }
    a.dispose();
    c.dispose();
  });

  it('creates state at a parameter\'s first step and frees it on release, so memory tracks the trainable set', () => {
    const params = makeParams('bf16');
    const opt = createAdamW(groups(params), OPTIONS);
    const before = liveTensorCount();
    setGrads(params, 1); // "c" has no gradient yet
    const withGrads = liveTensorCount();
    opt.step();
    expect(opt.stateNames().sort()).toEqual(['layers.0.b', 'layers.0.w']);
    // exp_avg, exp_avg_sq and master for each of the two parameters that stepped.
    expect(liveTensorCount() - withGrads).toBe(6);
    opt.zeroGrad();
    expect(opt.releaseState('layers.0.w')).toBe(true);
    expect(opt.releaseState('layers.0.w')).toBe(false);
    expect(opt.stateNames()).toEqual(['layers.0.b']);
    // LISA switches the trainable set: state of parameters that left the groups goes too.
    opt.setParamGroups([{ params: [['c', params.get('c')!]], options: {} }]);
    expect(opt.stateNames()).toEqual([]);
    expect(liveTensorCount()).toBe(before);
    opt.dispose();
  });

  it('keeps its state when the step runs inside tidy()', () => {
    const params = makeParams('f32');
    const opt = createAdamW(groups(params), OPTIONS);
    setGrads(params, 2);
    tidy(() => opt.step());
    const state = opt.stateDict();
    expect((state.get('c.exp_avg') as Tensor).isDisposed).toBe(false);
    opt.dispose();
  });

  it('refuses state it cannot place, naming the key, and keeps its own state', () => {
    const params = makeParams('f32');
    const opt = createAdamW(groups(params), OPTIONS);
    setGrads(params, 2);
    opt.step();
    const good = opt.stateDict();
    const withUnknown = new Map(good).set('layers.9.w.exp_avg', good.get('c.exp_avg')!);
    expect(() => opt.loadStateDict(withUnknown)).toThrow(/key "layers\.9\.w\.exp_avg" is state of parameter "layers\.9\.w", which is not in the optimizer's groups/);
    const badField = new Map(good).set('c.momentum', 1);
    expect(() => opt.loadStateDict(badField)).toThrow(/key "c\.momentum" does not end with a known state field/);
    const missing = new Map(good);
    missing.delete('c.exp_avg_sq');
    expect(() => opt.loadStateDict(missing)).toThrow(/"c\.exp_avg_sq" is missing/);
    const wrongShape = new Map(good).set('c.exp_avg', good.get('layers.0.b.exp_avg')!);
    expect(() => opt.loadStateDict(wrongShape)).toThrow(/"c\.exp_avg" has shape \[7\], but parameter "c" has shape \[2, 3\]/);
    const badStep = new Map(good).set('c.step', 0);
    expect(() => opt.loadStateDict(badStep)).toThrow(/"c\.step" is 0, expected an integer >= 1/);
    const master = new Map(good).set('c.master', good.get('c.exp_avg')!);
    expect(() => opt.loadStateDict(master)).toThrow(/"c\.master" is not expected for this parameter \(the parameter is f32/);
    // Nothing was replaced by the failed loads.
    expect(opt.stateDict().get('c.exp_avg')).toBe(good.get('c.exp_avg'));
    opt.dispose();
  });

  it('checks groups and options, naming the group and the option', () => {
    const params = makeParams('f32');
    const w = params.get('layers.0.w')!;
    expect(() => createAdamW([{ params: [['w', w]], options: { weight_decay: 0.1 } }])).toThrow(/AdamW: parameter group 0: unknown option "weight_decay"; valid options are lr, lrScale, weightDecay, beta1, beta2, eps/);
    expect(() => createAdamW([{ params: [['w', w]], options: { beta2: 1 } }])).toThrow(/group 0: option "beta2" is 1, expected a number in \[0, 1\)/);
    expect(() => createAdamW([{ params: [['w', w]], options: { lr: 1, lrScale: 2 } }])).toThrow(/sets both "lr" \(1\) and "lrScale" \(2\)/);
    expect(() => createAdamW([{ params: [['w', w]], options: {} }, { params: [['w', w]], options: {} }])).toThrow(/group 1: parameter "w" is already in group 0/);
    expect(() => createAdamW([{ params: [['w', w.transpose()]], options: {} }])).toThrow(/parameter "w" .* is not contiguous/);
    expect(() => createAdamW([{ params: [['w', w]], options: { lr: 0.1 } }], { lr: 0 })).toThrow(/absolute "lr" but the base learning rate is 0/);
    const opt = createAdamW([{ params: [['w', w]], options: {} }]);
    expect(() => opt.setLearningRate(NaN)).toThrow(/AdamW: learning rate is NaN, expected a finite number >= 0/);
    w.grad = randn([5, 3], { device: 'cpu' });
    expect(() => opt.step()).toThrow(/AdamW: parameter "w": adamwUpdate: grad must have shape \[3, 5\]/);
    // The failed first step leaves no half-made state behind.
    expect(opt.stateNames()).toEqual([]);
    opt.dispose();
  });
});
