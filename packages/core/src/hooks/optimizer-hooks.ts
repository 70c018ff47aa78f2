/** Hooks of optimizer and scheduler construction (LoRA's param groups, LISA's rebuilds). */
import { SyncBailHook, SyncHook, SyncWaterfallHook } from 'tapable';
import type { Tensor } from '@lmflow/tensor';

export interface ParamGroup {
  /** Parameters by name. */
  params: [string, Tensor][];
  /** Per-group overrides of the optimizer options (lr, weightDecay, ...). */
  options: Record<string, number>;
}

/** What an optimizer must offer the training loop. */
export interface Optimizer {
  readonly name: string;
  /** Applies one update from the parameters' .grad (under noGrad). */
  step(): void;
  /** Clears the parameters' gradients. */
  zeroGrad(): void;
  /** Sets the base learning rate for the next step (the scheduler's output); groups with their own lr follow it proportionally. */
  setLearningRate(lr: number): void;
  /** State to checkpoint and restore (moments, step count). */
  stateDict(): Map<string, Tensor | number>;
  loadStateDict(state: Map<string, Tensor | number>): void;
}

export interface Scheduler {
  /** Learning rate for a 1-based optimizer step. */
  learningRate(step: number): number;
}

export interface OptimizerContext {
  /** The options of the run (learning_rate, weight_decay, ...). */
  options: Record<string, unknown>;
  totalSteps: number;
}

export interface OptimizerHooks {
  /** Splits trainable parameters into groups (no weight decay on norms and biases). Waterfall. */
  readonly paramGroups: SyncWaterfallHook<[ParamGroup[], OptimizerContext]>;
  /** Builds the optimizer; the first tap returning one wins. Bail. */
  readonly createOptimizer: SyncBailHook<[ParamGroup[], OptimizerContext], Optimizer | undefined>;
  /** Builds the learning-rate schedule; the first tap returning one wins. Bail. */
  readonly createScheduler: SyncBailHook<[OptimizerContext], Scheduler | undefined>;
  /** The set of trainable parameters changed (LISA switched layers): drop stale state. */
  readonly rebuild: SyncHook<[ParamGroup[], OptimizerContext]>;
}

export interface OptimizerOwner {
  readonly hooks: OptimizerHooks;
}

export function createOptimizerOwner(): OptimizerOwner {
  return {
    hooks: Object.freeze({
      paramGroups: new SyncWaterfallHook<[ParamGroup[], OptimizerContext]>(['groups', 'context']),
      createOptimizer: new SyncBailHook<[ParamGroup[], OptimizerContext], Optimizer | undefined>(['groups', 'context']),
      createScheduler: new SyncBailHook<[OptimizerContext], Scheduler | undefined>(['context']),
      rebuild: new SyncHook<[ParamGroup[], OptimizerContext]>(['groups', 'context']),
    }),
  };
}
