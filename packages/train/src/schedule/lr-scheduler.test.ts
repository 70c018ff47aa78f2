import { describe, expect, it } from 'vitest';
import { SCHEDULER_TYPES, createScheduler, resolveWarmupSteps } from './lr-scheduler.js';

// transformers.optimization's lambdas, written out here from their definitions
// (k: 0-based optimizer step, W: warmup steps, T: total steps).
const expected = {
  constant: () => 1,
  constant_with_warmup: (k: number, W: number) => (k < W ? k / Math.max(1, W) : 1),
  linear: (k: number, W: number, T: number) => (k < W ? k / Math.max(1, W) : Math.max(0, (T - k) / Math.max(1, T - W))),
  cosine: (k: number, W: number, T: number) => {
    if (k < W) return k / Math.max(1, W);
    const progress = (k - W) / Math.max(1, T - W);
    return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * 0.5 * 2 * progress)));
  },
};

const PAIRS: [total: number, warmup: number][] = [
  [10, 0],
  [10, 3],
  [10, 10],
  [1, 0],
  [1, 1],
  [7, 2],
  [100, 6],
];

describe('learning-rate schedules against transformers\' formulas', () => {
  it.each(PAIRS)('total %i, warmup %i: every type at every step (LambdaLR convention)', (total, warmup) => {
    const lr = 3e-4;
    for (const type of SCHEDULER_TYPES) {
      const s = createScheduler(type, { learningRate: lr, totalSteps: total, warmupSteps: warmup });
      const W = type === 'constant' ? 0 : warmup;
      expect(s.warmupSteps).toBe(W);
      // Steps past the end too: linear stays at 0, cosine follows its formula.
      for (let step = 1; step <= total + 2; step++) {
        const k = step - 1;
        const want = lr * expected[type](k, W, total);
        expect(s.learningRate(step), `${type} step ${step}`).toBe(want);
        expect(s.factor(k), `${type} lambda(${k})`).toBe(expected[type](k, W, total));
      }
    }
  });

  it('pins the shape: warmup starts at 0, linear ends at 0, cosine passes 0.5 halfway', () => {
    const linear = createScheduler('linear', { learningRate: 1, totalSteps: 10, warmupSteps: 2 });
    expect([1, 2, 3, 4, 10, 11].map((s) => linear.learningRate(s))).toEqual([0, 0.5, 1, 7 / 8, 1 / 8, 0]);
    const cosine = createScheduler('cosine', { learningRate: 2, totalSteps: 12, warmupSteps: 2 });
    expect(cosine.learningRate(3)).toBe(2);
    expect(cosine.learningRate(8)).toBeCloseTo(1, 12); // k = 7: progress 5/10
    expect(cosine.learningRate(13)).toBeCloseTo(0, 12);
    // warmup = total: the whole run warms up and the last step is at (T-1)/T.
    const allWarm = createScheduler('cosine', { learningRate: 1, totalSteps: 4, warmupSteps: 4 });
    expect([1, 2, 3, 4].map((s) => allWarm.learningRate(s))).toEqual([0, 0.25, 0.5, 0.75]);
  });

  it('warmup steps come from warmup_steps when > 0, else ceil(warmup_ratio * total)', () => {
    expect(resolveWarmupSteps(100, 0, 0.03)).toBe(3);
    expect(resolveWarmupSteps(101, 0, 0.03)).toBe(4); // 3.03 rounds up
    expect(resolveWarmupSteps(100, 5, 0.5)).toBe(5);
    expect(resolveWarmupSteps(100)).toBe(0);
    expect(createScheduler('linear', { learningRate: 1, totalSteps: 50, warmupRatio: 0.1 }).warmupSteps).toBe(5);
  });

  it('constant ignores warmup as transformers does, and says so', () => {
    const s = createScheduler('constant', { learningRate: 1e-3, totalSteps: 10, warmupRatio: 0.5 });
    expect(s.learningRate(1)).toBe(1e-3);
    expect(s.warnings).toEqual([expect.stringMatching(/"constant" has no warmup .* the 5 warmup steps asked for are not used: use "constant_with_warmup"/)]);
    expect(s.state()).toEqual({ type: 'constant', learningRate: 1e-3, totalSteps: 10, warmupSteps: 0 });
  });

  it('rejects unknown types listing the valid ones, and bad numbers naming them', () => {
    expect(() => createScheduler('cosine_with_restarts', { learningRate: 1, totalSteps: 10 })).toThrow(
      'lr_scheduler_type "cosine_with_restarts" is not supported; valid types are constant, constant_with_warmup, linear, cosine',
    );
    expect(() => createScheduler('linear', { learningRate: 1, totalSteps: 0 })).toThrow(/total steps is 0, expected an integer >= 1/);
    expect(() => createScheduler('linear', { learningRate: -1, totalSteps: 5 })).toThrow(/learning_rate is -1/);
    expect(() => createScheduler('linear', { learningRate: 1, totalSteps: 5, warmupRatio: 1.5 })).toThrow(/warmup_ratio is 1.5, expected a number in \[0, 1\]/);
    expect(() => createScheduler('linear', { learningRate: 1, totalSteps: 5, warmupSteps: 2.5 })).toThrow(/warmup_steps is 2.5/);
    expect(() => createScheduler('linear', { learningRate: 1, totalSteps: 5 }).learningRate(0)).toThrow(/optimizer step 0 must be an integer >= 1 \(steps count from 1\)/);
  });
});
