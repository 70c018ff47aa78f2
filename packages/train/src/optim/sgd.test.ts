import { describe, expect, it } from 'vitest';
import { Generator, bf16ToF32, f32ToBf16, liveTensorCount, noGrad, randn, tensor, type DType, type Tensor } from '@lmflow/tensor';
import { createSgd, type SgdOptions } from './sgd.js';

const SHAPE = [5, 3];

function param(dtype: DType, seed = 3): Tensor {
  return randn(SHAPE, { dtype, device: 'cpu', generator: new Generator(seed) }).requiresGrad_();
}

function grad(p: Tensor, t: number): Tensor {
  return randn(p.shape, { dtype: p.dtype, device: 'cpu', generator: new Generator(50 + t), std: 0.5 });
}

/** torch.optim.SGD's _single_tensor_sgd in float64 (maximize off). */
function torchSgd(theta: number[], buf: { v: number[] | null }, g: number[], o: { lr: number; momentum: number; dampening: number; wd: number; nesterov: boolean }): void {
  let d = g.map((x, i) => (o.wd !== 0 ? x + o.wd * theta[i]! : x));
  if (o.momentum !== 0) {
    if (!buf.v) buf.v = [...d];
    else buf.v = buf.v.map((b, i) => b * o.momentum + (1 - o.dampening) * d[i]!);
    d = o.nesterov ? d.map((x, i) => x + o.momentum * buf.v![i]!) : buf.v;
  }
  for (let i = 0; i < theta.length; i++) theta[i] = theta[i]! - o.lr * d[i]!;
}

function maxExcess(actual: number[], expected: number[], atol: number, rtol: number): number {
  return Math.max(...actual.map((a, i) => Math.abs(a - expected[i]!) - (atol + rtol * Math.abs(expected[i]!))));
}

const VARIANTS: [string, SgdOptions][] = [
  ['plain', { lr: 0.1 }],
  ['momentum', { lr: 0.1, momentum: 0.9 }],
  ['momentum, dampening, weight decay', { lr: 0.05, momentum: 0.8, dampening: 0.3, weightDecay: 0.01 }],
  ['nesterov, weight decay', { lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 0.1 }],
];

describe('SGD against torch.optim.SGD written out in float64', () => {
  it.each(VARIANTS)('%s (f32)', (_label, options) => {
    const p = param('f32');
    const opt = createSgd([{ params: [['w', p]], options: {} }], options);
    const theta = p.toFlatArray();
    const buf = { v: null as number[] | null };
    for (let t = 1; t <= 4; t++) {
      // The schedule halves the learning rate each step.
      const lr = options.lr! / 2 ** (t - 1);
      p.grad = grad(p, t);
      torchSgd(theta, buf, p.grad.toFlatArray(), { lr, momentum: options.momentum ?? 0, dampening: options.dampening ?? 0, wd: options.weightDecay ?? 0, nesterov: options.nesterov ?? false });
      opt.setLearningRate(lr);
      opt.step();
      opt.zeroGrad();
    }
    expect(maxExcess(p.toFlatArray(), theta, 1e-6, 1e-5)).toBeLessThanOrEqual(0);
    const state = opt.stateDict();
    if (options.momentum) {
      expect(maxExcess((state.get('w.momentum_buffer') as Tensor).toFlatArray(), buf.v!, 1e-6, 1e-5)).toBeLessThanOrEqual(0);
    } else {
      // Plain SGD keeps no state.
      expect(state.size).toBe(0);
    }
    opt.dispose();
  });

  it('bf16 parameters update an f32 master and receive it rounded', () => {
    const p = param('bf16');
    const opt = createSgd([{ params: [['w', p]], options: { momentum: 0.9 } }], { lr: 1e-3 });
    const theta = p.toFlatArray();
    const buf = { v: null as number[] | null };
    for (let t = 1; t <= 3; t++) {
      p.grad = grad(p, t);
      torchSgd(theta, buf, p.grad.toFlatArray(), { lr: 1e-3, momentum: 0.9, dampening: 0, wd: 0, nesterov: false });
      opt.step();
      opt.zeroGrad();
    }
    const master = (opt.stateDict().get('w.master') as Tensor).toFlatArray();
    expect(maxExcess(master, theta, 1e-6, 1e-5)).toBeLessThanOrEqual(0);
    expect(p.toFlatArray()).toEqual(master.map((x) => bf16ToF32(f32ToBf16(x))));
    opt.dispose();
  });

  it('per-group learning rates and weight decay: lrScale, absolute lr following the schedule', () => {
    const [a, b] = [param('f32', 1), param('f32', 2)];
    const opt = createSgd(
      [
        { params: [['a', a]], options: { lrScale: 3, weightDecay: 0.5 } },
        { params: [['b', b]], options: { lr: 0.2 } },
      ],
      { lr: 0.1 },
    );
    opt.setLearningRate(0.05);
    expect(opt.groupLearningRates()).toEqual([0.05 * 3, 0.2 * (0.05 / 0.1)]);
    const [ta, tb] = [a.toFlatArray(), b.toFlatArray()];
    a.grad = grad(a, 1);
    b.grad = grad(b, 2);
    torchSgd(ta, { v: null }, a.grad.toFlatArray(), { lr: 0.15, momentum: 0, dampening: 0, wd: 0.5, nesterov: false });
    torchSgd(tb, { v: null }, b.grad.toFlatArray(), { lr: 0.1, momentum: 0, dampening: 0, wd: 0, nesterov: false });
    opt.step();
    expect(maxExcess(a.toFlatArray(), ta, 1e-6, 1e-5)).toBeLessThanOrEqual(0);
    expect(maxExcess(b.toFlatArray(), tb, 1e-6, 1e-5)).toBeLessThanOrEqual(0);
    opt.dispose();
  });

  it('state round trip continues bitwise; temporaries are freed', () => {
    const options: SgdOptions = { lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 0.1 };
    const run = (p: Tensor, opt: ReturnType<typeof createSgd>, from: number, to: number) => {
      for (let t = from; t <= to; t++) {
        p.grad = grad(p, t);
        opt.step();
        opt.zeroGrad();
      }
    };
    const straight = param('bf16');
    const a = createSgd([{ params: [['w', straight]], options: {} }], options);
    run(straight, a, 1, 5);

    const first = param('bf16');
    const b = createSgd([{ params: [['w', first]], options: {} }], options);
    const live = liveTensorCount();
    run(first, b, 1, 2);
    // Two state tensors (master, momentum buffer) and nothing else survive the steps.
    expect(liveTensorCount() - live).toBe(2);
    const resumed = noGrad(() => tensor(first.toFlatArray(), { shape: SHAPE, dtype: 'bf16', device: 'cpu' }).requiresGrad_());
    const c = createSgd([{ params: [['w', resumed]], options: {} }], options);
    c.loadStateDict(b.stateDict());
    b.dispose();
    run(resumed, c, 3, 5);
    expect(resumed.toFlatArray()).toEqual(straight.toFlatArray());
    expect((c.stateDict().get('w.momentum_buffer') as Tensor).toFlatArray()).toEqual((a.stateDict().get('w.momentum_buffer') as Tensor).toFlatArray());
    a.dispose();
    c.dispose();
  });

  it('rejects nesterov without momentum or with dampening, naming the group', () => {
    const p = param('f32');
    expect(() => createSgd([{ params: [['w', p]], options: {} }], { nesterov: true })).toThrow(/SGD: parameter group 0: nesterov momentum needs momentum > 0 and dampening 0, got momentum 0 and dampening 0/);
    expect(() => createSgd([{ params: [['w', p]], options: { dampening: 0.1 } }], { nesterov: true, momentum: 0.9 })).toThrow(/dampening 0\.1/);
    expect(() => createSgd([{ params: [['w', p]], options: { nesterov: 2 } }])).toThrow(/option "nesterov" is 2, expected 0 or 1/);
    expect(() => createSgd([{ params: [['w', p]], options: { beta1: 0.9 } }])).toThrow(/unknown option "beta1"; valid options are lr, lrScale, momentum, dampening, weightDecay, nesterov/);
  });
});
