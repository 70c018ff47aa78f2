/**
 * The tensor package end to end: a two-layer Llama (attention with grouped-query heads, SwiGLU
 * MLP, RMSNorm, RoPE) trains on a fixed toy sequence with AdamW, on both backends; a step
 * leaks nothing; checkpointed layers give the gradients of plain ones.
 */
import { describe, expect, it } from 'vitest';
import { adamwUpdate, arange, liveTensorCount, noGrad, tensor, tidy, zerosLike } from './index.js';
import { initTinyLlama, parameterList, tinyLlamaLoss, maxRelativeError, type TinyLlamaConfig } from '@lmflow/test-utils';

const config: TinyLlamaConfig = {
  vocabSize: 16,
  hidden: 32,
  heads: 4,
  kvHeads: 2,
  intermediate: 64,
  layers: 2,
  rmsNormEps: 1e-5,
  ropeTheta: 10000,
};
const B = 2;
const T = 12;
// Two repeating patterns the model can learn to continue.
const sequence = [
  [1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 6, 1],
  [7, 9, 11, 13, 7, 9, 11, 13, 7, 9, 11, 13, 7],
];

function batch(device: string) {
  const ids = tensor(sequence.map((s) => s.slice(0, T)), { device, dtype: 'i32' });
  const targets = tensor(sequence.map((s) => s.slice(1, T + 1)), { device, dtype: 'i32' });
  const positions = tidy(() => arange(T, undefined, 1, { device }).reshape(1, T).expand(B, T).contiguous());
  return { ids, targets, positions };
}

function train(device: string, steps: number): number[] {
  const params = initTinyLlama(config, { device, seed: 3 });
  const list = parameterList(params);
  const state = list.map((p) => ({ m: zerosLike(p), v: zerosLike(p) }));
  const { ids, targets, positions } = batch(device);
  const losses: number[] = [];
  for (let step = 1; step <= steps; step++) {
    const loss = tidy(() => tinyLlamaLoss(params, ids, targets, positions, config));
    losses.push(loss.item());
    loss.backward();
    loss.dispose();
    noGrad(() =>
      list.forEach((p, i) => {
        adamwUpdate(p, p.grad!, state[i]!.m, state[i]!.v, { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, step });
        p.grad!.dispose();
        p.grad = null;
      }),
    );
  }
  for (const t of [...list, ...state.flatMap((s) => [s.m, s.v]), ids, targets, positions]) t.dispose();
  return losses;
}

describe('a two-layer Llama trains on a toy sequence', () => {
  const steps = 40;
  const results = new Map<string, number[]>();

  for (const device of ['reference', 'cpu']) {
    it(`loss falls at least 20x in ${steps} AdamW steps on ${device}`, () => {
      const losses = train(device, steps);
      results.set(device, losses);
      expect(losses[0]).toBeGreaterThan(Math.log(config.vocabSize) * 0.9); // starts near chance
      expect(losses[steps - 1]!).toBeLessThan(losses[0]! / 20);
    });
  }

  it('both backends follow the same loss curve (within 2e-3 relative per step)', () => {
    const ref = results.get('reference')!;
    const cpu = results.get('cpu')!;
    expect(ref).toHaveLength(steps);
    expect(maxRelativeError(cpu.slice(0, 10), ref.slice(0, 10))).toBeLessThan(2e-3);
    // Later steps amplify f32 rounding differences a little; still the same curve.
    expect(maxRelativeError(cpu, ref, 1e-3)).toBeLessThan(2e-2);
  });
});

describe('memory and checkpointing', () => {
  for (const device of ['reference', 'cpu']) {
    it(`the live-tensor count returns to its baseline after a training step on ${device}`, () => {
      const params = initTinyLlama(config, { device, seed: 1 });
      const { ids, targets, positions } = batch(device);
      const step = () => {
        const loss = tidy(() => tinyLlamaLoss(params, ids, targets, positions, config));
        loss.backward();
        loss.dispose();
        for (const p of parameterList(params)) {
          p.grad!.dispose();
          p.grad = null;
        }
      };
      step(); // first step may create cached state
      const baseline = liveTensorCount();
      step();
      expect(liveTensorCount()).toBe(baseline);
      for (const t of [...parameterList(params), ids, targets, positions]) t.dispose();
    });

    it(`checkpoint() gives the gradients of no checkpointing on ${device}`, () => {
      const params = initTinyLlama(config, { device, seed: 2 });
      const list = parameterList(params);
      const { ids, targets, positions } = batch(device);
      const gradients = (checkpointLayers: boolean): { loss: number; grads: number[][] } => {
        const loss = tidy(() => tinyLlamaLoss(params, ids, targets, positions, config, { checkpointLayers }));
        loss.backward();
        const grads = list.map((p) => p.grad!.toFlatArray());
        for (const p of list) {
          p.grad!.dispose();
          p.grad = null;
        }
        const value = loss.item();
        loss.dispose();
        return { loss: value, grads };
      };
      const plain = gradients(false);
      const before = liveTensorCount();
      const checkpointed = gradients(true);
      expect(liveTensorCount()).toBe(before);
      expect(checkpointed.loss).toBe(plain.loss);
      plain.grads.forEach((g, i) => expect(maxRelativeError(checkpointed.grads[i]!, g, 1e-3)).toBeLessThan(1e-6));
      for (const t of [...list, ids, targets, positions]) t.dispose();
    });
  }
});

