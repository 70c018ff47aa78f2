/**
 * How a run walks its samples: each epoch in its own seeded order, cut into micro-batches of
 * per_device_train_batch_size, grouped into accumulation windows of
 * gradient_accumulation_steps micro-batches; one window is one optimizer step. The last window
 * of an epoch may be shorter (it still steps, so no sample is skipped).
 */
import { epochPermutation } from '../random/data-order.js';

export interface WalkPlan {
  samples: number;
  batchSize: number;
  accumulation: number;
}

export interface Window {
  epoch: number;
  /** Sample indices of each micro-batch. */
  microBatches: number[][];
  /** Position in the epoch's order after this window (what a checkpoint records). */
  positionAfter: number;
}

/** Optimizer steps in one epoch. */
export function stepsPerEpoch(plan: WalkPlan): number {
  const micro = Math.ceil(plan.samples / plan.batchSize);
  return Math.ceil(micro / plan.accumulation);
}

/** Optimizer steps of the whole run: max_steps when > 0, else ceil(epochs x steps per epoch). */
export function totalSteps(plan: WalkPlan, epochs: number, maxSteps: number): number {
  if (maxSteps > 0) return maxSteps;
  return Math.max(1, Math.ceil(epochs * stepsPerEpoch(plan)));
}

/**
 * The windows from (epoch, position) on, epoch after epoch (the caller stops at its step
 * count). Each epoch's order depends only on (seed, epoch), so a resumed run continues the
 * same sequence.
 */
export function* windows(plan: WalkPlan, seed: number, start: { epoch: number; position: number }): Generator<Window> {
  for (let epoch = start.epoch; ; epoch++) {
    const order = epochPermutation(plan.samples, seed, epoch);
    let position = epoch === start.epoch ? start.position : 0;
    while (position < plan.samples) {
      const microBatches: number[][] = [];
      for (let m = 0; m < plan.accumulation && position < plan.samples; m++) {
        const end = Math.min(plan.samples, position + plan.batchSize);
        microBatches.push(Array.from(order.subarray(position, end)));
        position = end;
      }
      yield { epoch, microBatches, positionAfter: position };
    }
  }
}
