/**
 * @lmflow/train: the building blocks of the finetune recipe. Optimizers and schedules,
 * gradient clipping, resumable randomness, atomic checkpoints with trainer state, metrics,
 * progress, the HTML report, and the NaN guard.
 */
export { createAdamW, type AdamW, type AdamWOptions } from './optim/adamw.js';
export { createSgd, type Sgd, type SgdOptions } from './optim/sgd.js';
export { weightDecayGroups, isNoDecayParameter } from './optim/weight-decay-groups.js';

export { createScheduler, resolveWarmupSteps, isSchedulerType, SCHEDULER_TYPES, type LrScheduler, type SchedulerOptions, type SchedulerState, type SchedulerType } from './schedule/lr-scheduler.js';

export { clipGradNorm, type ClipResult } from './clip-grad-norm.js';

export { epochPermutation, remainingInEpoch } from './random/data-order.js';
export { captureRngState, restoreRngState, type RngState } from './random/rng-state.js';

export { writeCheckpoint, findLatestCheckpoint, listCheckpoints, isCheckpointComplete, pruneCheckpoints, recoverInterrupted, CHECKPOINT_MARKER, type CheckpointInfo } from './checkpoint/atomic-checkpoint.js';
export { writeTrainerState, readTrainerState, TRAINER_STATE_FILE, type TrainerState } from './checkpoint/trainer-state.js';
export { saveTensorState, loadTensorState, safetensorsIO, type TensorStateIO } from './checkpoint/tensor-state.js';
export { writeFileAtomic } from './fs/durable-fs.js';

export { openMetricsLog, readMetrics, METRICS_FILE, type MetricsLog, type MetricsLogOptions } from './metrics/metrics-log.js';
export { encodeMetricRecord, decodeMetricRecord, type MetricRecord } from './metrics/metric-record.js';

export { createProgress, formatDuration, type Progress, type ProgressOptions, type ProgressStream, type ProgressUpdate } from './progress/progress.js';
export { renderReport, writeReport, REPORT_FILE, type ReportInput, type RunSummary } from './report/html-report.js';
export { lineChart, niceTicks, type ChartOptions, type ChartSeries } from './report/svg-chart.js';

export { createLossGuard, NonFiniteLossError, type LossGuard, type LossGuardOptions } from './loss-guard.js';

export { finetune, finetuneOptionGroups, type FinetuneConfig, type FinetuneOptions, type FinetuneResult } from './finetune/finetune.js';
export { modelOptions, evalOptions, trainingOptions } from './finetune/finetune-options.js';
export { nextTokenLossSum } from './finetune/lm-loss.js';
export { evaluateLoss, type EvalResult } from './finetune/evaluate-loss.js';
