/**
 * Learning-rate schedules with Hugging Face transformers' formulas and step convention
 * (transformers.optimization's get_*_schedule_with_warmup, applied by torch's LambdaLR).
 *
 * LambdaLR gives the k-th optimizer step (k = 0, 1, ...) the rate base * lambda(k): the first
 * step of a warmup runs at lr 0. core's Scheduler counts steps from 1, so
 * learningRate(step) = base * lambda(step - 1). With W warmup steps and T total steps:
 *   warmup (k < W)  lambda = k / max(1, W)
 *   constant        1 (no warmup: transformers' get_constant_schedule takes none)
 *   linear          max(0, (T - k) / max(1, T - W))
 *   cosine          max(0, 0.5 * (1 + cos(pi * 2 * 0.5 * (k - W) / max(1, T - W))))
 */
import type { Scheduler } from '@lmflow/core';

export const SCHEDULER_TYPES = ['constant', 'constant_with_warmup', 'linear', 'cosine'] as const;
export type SchedulerType = (typeof SCHEDULER_TYPES)[number];

export interface SchedulerOptions {
  /** The base learning rate (the optimizer's). */
  learningRate: number;
  /** Optimizer steps in the run. */
  totalSteps: number;
  /** Warmup steps; wins over warmupRatio when > 0. @default 0 */
  warmupSteps?: number;
  /** Warmup as a fraction of totalSteps, rounded up (transformers' get_warmup_steps). @default 0 */
  warmupRatio?: number;
}

/** What a checkpoint records to rebuild (or compare) the schedule. */
export interface SchedulerState {
  type: SchedulerType;
  learningRate: number;
  totalSteps: number;
  warmupSteps: number;
}

export interface LrScheduler extends Scheduler {
  readonly type: SchedulerType;
  readonly baseLearningRate: number;
  readonly totalSteps: number;
  /** Warmup steps in effect (0 for `constant`). */
  readonly warmupSteps: number;
  /** Things the user asked for that this schedule does not do, for the run's log. */
  readonly warnings: readonly string[];
  /** LambdaLR's lambda(k) for the 0-based optimizer step k. */
  factor(k: number): number;
  state(): SchedulerState;
}

/** transformers' TrainingArguments.get_warmup_steps: warmup_steps if > 0, else ceil(ratio * total). */
export function resolveWarmupSteps(totalSteps: number, warmupSteps = 0, warmupRatio = 0): number {
  if (!Number.isInteger(warmupSteps) || warmupSteps < 0) throw new Error(`scheduler: warmup_steps is ${warmupSteps}, expected an integer >= 0`);
  if (!(typeof warmupRatio === 'number' && warmupRatio >= 0 && warmupRatio <= 1)) throw new Error(`scheduler: warmup_ratio is ${warmupRatio}, expected a number in [0, 1]`);
  return warmupSteps > 0 ? warmupSteps : Math.ceil(totalSteps * warmupRatio);
}

function lambdaFor(type: SchedulerType, total: number, warmup: number): (k: number) => number {
  const warm = (k: number) => k / Math.max(1, warmup);
  switch (type) {
    case 'constant':
      return () => 1;
    case 'constant_with_warmup':
      return (k) => (k < warmup ? warm(k) : 1);
    case 'linear':
      return (k) => (k < warmup ? warm(k) : Math.max(0, (total - k) / Math.max(1, total - warmup)));
    case 'cosine':
      return (k) => {
        if (k < warmup) return warm(k);
        const progress = (k - warmup) / Math.max(1, total - warmup);
        return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * 0.5 * 2 * progress)));
      };
  }
}

export function isSchedulerType(value: unknown): value is SchedulerType {
  return typeof value === 'string' && (SCHEDULER_TYPES as readonly string[]).includes(value);
}

/** A schedule by transformers' name (`--lr_scheduler_type`). */
export function createScheduler(type: string, options: SchedulerOptions): LrScheduler {
  if (!isSchedulerType(type)) {
    throw new Error(`lr_scheduler_type "${type}" is not supported; valid types are ${SCHEDULER_TYPES.join(', ')}`);
  }
  const { learningRate, totalSteps } = options;
  if (!(Number.isFinite(learningRate) && learningRate >= 0)) throw new Error(`scheduler: learning_rate is ${learningRate}, expected a finite number >= 0`);
  if (!Number.isInteger(totalSteps) || totalSteps < 1) throw new Error(`scheduler: total steps is ${totalSteps}, expected an integer >= 1`);
  const asked = resolveWarmupSteps(totalSteps, options.warmupSteps, options.warmupRatio);
  const warnings: string[] = [];
  if (type === 'constant' && asked > 0) {
    warnings.push(`lr_scheduler_type "constant" has no warmup (as in transformers); the ${asked} warmup steps asked for are not used: use "constant_with_warmup" to warm up`);
  }
  const warmupSteps = type === 'constant' ? 0 : asked;
  const lambda = lambdaFor(type, totalSteps, warmupSteps);
  const factor = (k: number) => {
    if (!Number.isInteger(k) || k < 0) throw new Error(`scheduler: step index ${k} must be an integer >= 0`);
    return lambda(k);
  };
  return {
    type,
    baseLearningRate: learningRate,
    totalSteps,
    warmupSteps,
    warnings,
    factor,
    learningRate(step: number) {
      if (!Number.isInteger(step) || step < 1) throw new Error(`scheduler: optimizer step ${step} must be an integer >= 1 (steps count from 1)`);
      return learningRate * lambda(step - 1);
    },
    state: () => ({ type, learningRate, totalSteps, warmupSteps }),
  };
}
