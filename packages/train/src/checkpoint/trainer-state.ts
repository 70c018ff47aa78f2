/**
 * The loop's own state in a checkpoint, as JSON: where the run is (step, epoch, position in
 * the epoch, tokens seen), the random state, the schedule, the metrics history the report
 * is drawn from, and the run's configuration. Reading it checks every field, so a damaged or
 * hand-edited file fails with the file and the field instead of resuming from garbage.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RngState } from '../random/rng-state.js';
import { SCHEDULER_TYPES, isSchedulerType, type SchedulerState } from '../schedule/lr-scheduler.js';
import { decodeMetricRecord, encodeMetricRecord, type MetricRecord } from '../metrics/metric-record.js';

export const TRAINER_STATE_FILE = 'lmflow_trainer_state.json';
const FORMAT = 'lmflow-trainer-state-v1';

export interface TrainerState {
  /** Optimizer steps done. */
  step: number;
  /** The epoch in progress (0-based). */
  epoch: number;
  /** Samples of this epoch's order already consumed: the position remainingInEpoch resumes from. */
  positionInEpoch: number;
  /** Micro-batches done in the whole run. */
  microStep: number;
  /** Input tokens processed so far (padding excluded). */
  tokensSeen: number;
  /** Training time so far, over all resumed segments (for the report's throughput). */
  elapsedSeconds: number;
  rng: RngState;
  scheduler: SchedulerState;
  /** The metrics logged so far (as in metrics.jsonl), for the report. */
  logHistory: MetricRecord[];
  /** The run's options (LMFlow's names), as given. */
  config: Record<string, unknown>;
}

/** Writes the state into a checkpoint folder (inside writeCheckpoint's temporary folder). */
export async function writeTrainerState(dir: string, state: TrainerState): Promise<string> {
  const file = join(dir, TRAINER_STATE_FILE);
  // Checking before writing: a state that would not read back must not be saved.
  const json = { format: FORMAT, ...state, logHistory: state.logHistory.map((r) => JSON.parse(encodeMetricRecord(r)) as unknown) };
  validate(`trainer state (to write to ${file})`, json);
  await writeFile(file, `${JSON.stringify(json, null, 2)}\n`);
  return file;
}

export async function readTrainerState(dir: string): Promise<TrainerState> {
  const file = join(dir, TRAINER_STATE_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new Error(`trainer state ${file}: cannot read it (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); is ${dir} a checkpoint folder?`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new Error(`trainer state ${file}: not valid JSON (${(error as Error).message})`);
  }
  return validate(`trainer state ${file}`, json);
}

function validate(where: string, json: unknown): TrainerState {
  const fail = (field: string, value: unknown, expected: string): never => {
    throw new Error(`${where}: field "${field}" is ${value === undefined ? 'missing' : JSON.stringify(value)}, expected ${expected}`);
  };
  const obj = (field: string, value: unknown): Record<string, unknown> => {
    if (!value || typeof value !== 'object' || Array.isArray(value)) fail(field, value, 'an object');
    return value as Record<string, unknown>;
  };
  const count = (field: string, value: unknown): number => {
    if (!Number.isSafeInteger(value) || (value as number) < 0) fail(field, value, 'an integer >= 0');
    return value as number;
  };
  const root = obj('(root)', json);
  if (root.format !== FORMAT) fail('format', root.format, `"${FORMAT}"`);
  const elapsed = root.elapsedSeconds;
  if (typeof elapsed !== 'number' || !(elapsed >= 0) || !Number.isFinite(elapsed)) fail('elapsedSeconds', elapsed, 'a finite number >= 0');
  const rng = obj('rng', root.rng);
  const generator = obj('rng.generator', rng.generator);
  const scheduler = obj('scheduler', root.scheduler);
  if (!isSchedulerType(scheduler.type)) fail('scheduler.type', scheduler.type, `one of ${SCHEDULER_TYPES.join(', ')}`);
  const lr = scheduler.learningRate;
  if (typeof lr !== 'number' || !Number.isFinite(lr) || lr < 0) fail('scheduler.learningRate', lr, 'a finite number >= 0');
  if (!Array.isArray(root.logHistory)) fail('logHistory', root.logHistory, 'an array of metric records');
  const state: TrainerState = {
    step: count('step', root.step),
    epoch: count('epoch', root.epoch),
    positionInEpoch: count('positionInEpoch', root.positionInEpoch),
    microStep: count('microStep', root.microStep),
    tokensSeen: count('tokensSeen', root.tokensSeen),
    elapsedSeconds: elapsed as number,
    rng: {
      dataSeed: count('rng.dataSeed', rng.dataSeed),
      generator: { seed: count('rng.generator.seed', generator.seed), offset: count('rng.generator.offset', generator.offset) },
    },
    scheduler: {
      type: scheduler.type as SchedulerState['type'],
      learningRate: lr as number,
      totalSteps: count('scheduler.totalSteps', scheduler.totalSteps),
      warmupSteps: count('scheduler.warmupSteps', scheduler.warmupSteps),
    },
    logHistory: (root.logHistory as unknown[]).map((r, i) => decodeMetricRecord(r, `${where}: field "logHistory[${i}]"`)),
    config: obj('config', root.config),
  };
  if (state.scheduler.totalSteps < 1) fail('scheduler.totalSteps', state.scheduler.totalSteps, 'an integer >= 1');
  return state;
}
