/** Hooks of the training loop, in the order the finetune recipe calls them. */
import { AsyncParallelHook, AsyncSeriesHook, SyncBailHook, SyncHook, SyncWaterfallHook } from 'tapable';
import type { Tensor } from '@lmflow/tensor';
import type { Batch } from '../types/tokenized.js';
import type { ModelHandle } from './model-hooks.js';
import type { Optimizer } from './optimizer-hooks.js';

export interface TrainState {
  epoch: number;
  /** Optimizer steps done so far. */
  step: number;
  /** Micro-batches done so far (gradient accumulation counts each). */
  microStep: number;
  /** Input tokens processed so far (padding excluded). */
  tokensSeen: number;
}

export interface TrainerContext {
  readonly state: TrainState;
  /** The run's options (LMFlow's names). */
  readonly options: Record<string, unknown>;
  readonly model: ModelHandle;
  readonly optimizer: Optimizer | null;
  /** Adds metrics to the current step's log line and the metrics file. */
  log(metrics: Record<string, number>): void;
}

export interface StepContext extends TrainerContext {
  readonly batch: Batch;
}

export interface AfterStepContext extends TrainerContext {
  readonly loss: number;
  readonly learningRate: number;
}

export interface EvaluateContext extends TrainerContext {
  /** "step" during training, "end" after the last step. */
  readonly when: 'step' | 'end';
  /** Records evaluation metrics (eval_loss, accuracy, ...). */
  report(metrics: Record<string, number>): void;
}

export interface TrainerHooks {
  /** Once before the first step (load state, warm caches). Async series. */
  readonly beforeRun: AsyncSeriesHook<[TrainerContext]>;
  readonly beforeEpoch: SyncHook<[TrainerContext]>;
  /** Before each micro-batch's forward. */
  readonly beforeStep: SyncHook<[StepContext]>;
  /** The loss of a micro-batch (the default is the LM cross-entropy; DPO replaces it). Waterfall. */
  readonly computeLoss: SyncWaterfallHook<[Tensor, StepContext]>;
  /** After backward, before the optimizer (gradient inspection, LISA). */
  readonly afterBackward: SyncHook<[StepContext]>;
  /**
   * Whether to run the optimizer now. Bail: the first tap returning a boolean decides (return
   * undefined to leave it to later taps and, after them, to gradient accumulation).
   */
  readonly shouldOptimizerStep: SyncBailHook<[StepContext], boolean | undefined>;
  /** After each optimizer step, with its loss and learning rate. */
  readonly afterStep: SyncHook<[AfterStepContext]>;
  /**
   * Whether to stop early. Bail: the first tap returning a boolean decides; taps with no
   * opinion must return undefined (a false would hide later taps' true).
   */
  readonly shouldStop: SyncBailHook<[TrainerContext], boolean | undefined>;
  /** Evaluations every eval_steps and at the end (benchmarks). Async parallel. */
  readonly evaluate: AsyncParallelHook<[EvaluateContext]>;
  /** Once after the last step (save, report). Async series. */
  readonly afterRun: AsyncSeriesHook<[TrainerContext]>;
}

export interface TrainerOwner {
  readonly hooks: TrainerHooks;
}

export function createTrainerOwner(): TrainerOwner {
  return {
    hooks: Object.freeze({
      beforeRun: new AsyncSeriesHook<[TrainerContext]>(['context']),
      beforeEpoch: new SyncHook<[TrainerContext]>(['context']),
      beforeStep: new SyncHook<[StepContext]>(['context']),
      computeLoss: new SyncWaterfallHook<[Tensor, StepContext]>(['loss', 'context']),
      afterBackward: new SyncHook<[StepContext]>(['context']),
      shouldOptimizerStep: new SyncBailHook<[StepContext], boolean | undefined>(['context']),
      afterStep: new SyncHook<[AfterStepContext]>(['context']),
      shouldStop: new SyncBailHook<[TrainerContext], boolean | undefined>(['context']),
      evaluate: new AsyncParallelHook<[EvaluateContext]>(['context']),
      afterRun: new AsyncSeriesHook<[TrainerContext]>(['context']),
    }),
  };
}
