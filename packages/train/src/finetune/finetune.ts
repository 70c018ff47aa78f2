/**
 * The finetune recipe: one file a reader can follow from the flags to the saved model.
 * Continued pretraining (text_only), instruction tuning (text2text, conversation) and task
 * tuning all run through it; plugins change it only at the trainer hooks, each called below
 * at the point of the loop where it happens.
 *
 *   checks -> tokenizer and data -> model -> optimizer and schedule -> (resume) ->
 *   beforeRun -> for each optimizer step:
 *       beforeEpoch (at an epoch start)
 *       for each micro-batch: beforeStep -> forward -> computeLoss -> backward -> afterBackward
 *       shouldOptimizerStep -> clip -> optimizer step -> afterStep -> log / evaluate / save
 *       shouldStop
 *   -> evaluate (end) -> save the model -> report -> afterRun
 */
import { mkdir } from 'node:fs/promises';
import { createRuntime, type ConfigOfGroups, type Runtime, type StepContext, type TrainerContext, type TrainState } from '@lmflow/core';
import { copy_, defaultDevice, div, isFloat, manualSeed, noGrad, tidy, type Tensor } from '@lmflow/tensor';
import { collateBatch, dataOptions, loadTokenizer, padTokenIdOf, resolveBlockSize } from '@lmflow/data';
import { loadModel, resolveModelPath, saveModel, type CausalLM } from '@lmflow/models';
import { createAdamW } from '../optim/adamw.js';
import { createSgd } from '../optim/sgd.js';
import { weightDecayGroups } from '../optim/weight-decay-groups.js';
import { freeGrads } from '../optim/param-groups.js';
import { createScheduler } from '../schedule/lr-scheduler.js';
import { clipGradNorm } from '../clip-grad-norm.js';
import { captureRngState, restoreRngState } from '../random/rng-state.js';
import { pruneCheckpoints } from '../checkpoint/atomic-checkpoint.js';
import type { TrainerState } from '../checkpoint/trainer-state.js';
import { openMetricsLog } from '../metrics/metrics-log.js';
import type { MetricRecord } from '../metrics/metric-record.js';
import { createProgress, type ProgressStream } from '../progress/progress.js';
import { writeReport } from '../report/html-report.js';
import { createLossGuard } from '../loss-guard.js';
import { evalOptions, modelOptions, trainingOptions } from './finetune-options.js';
import { preflight } from './preflight.js';
import { prepareData } from './prepare-data.js';
import { totalSteps, windows } from './batches.js';
import { nextTokenLossSum } from './lm-loss.js';
import { evaluateLoss } from './evaluate-loss.js';
import { openTrainingCheckpoint, saveTrainingCheckpoint } from './checkpoint-io.js';

export const finetuneOptionGroups = [modelOptions, dataOptions, evalOptions, trainingOptions] as const;
export type FinetuneConfig = ConfigOfGroups<typeof finetuneOptionGroups>;

export interface FinetuneOptions {
  /** Plugins' hooks (LoRA, LISA, ...). @default a runtime with no plugins */
  runtime?: Runtime;
  /** Aborting stops the run at the end of the current step, after saving a checkpoint (Ctrl-C). */
  signal?: AbortSignal;
  /** Messages for the person running it. @default stderr */
  log?: (line: string) => void;
  /** Where the progress bar draws. @default stderr */
  progressStream?: ProgressStream;
}

export interface FinetuneResult {
  /** completed; interrupted (aborted: a checkpoint was saved); stopped (the loss became NaN/inf). */
  status: 'completed' | 'interrupted' | 'stopped';
  step: number;
  totalSteps: number;
  outputDir: string;
  /** Mean training loss of the last step. */
  loss: number;
  /** The last evaluation, if any. */
  evalLoss?: number;
  /** The last checkpoint written, if any. */
  checkpoint?: string;
  /** Why the run stopped, when it did not complete. */
  message?: string;
}

export async function finetune(config: FinetuneConfig, options: FinetuneOptions = {}): Promise<FinetuneResult> {
  const runtime = options.runtime ?? createRuntime();
  const hooks = runtime.trainer.hooks;
  const progressStream = options.progressStream ?? process.stderr;
  let say = options.log ?? ((line: string) => void process.stderr.write(`${line}\n`));

  // 1. Checks that need nothing loaded: where we write, what we resume, the model folder.
  const checks = await preflight(config);
  checks.notes.forEach((note) => say(note));
  const resumed = checks.resumeFrom ? await openTrainingCheckpoint(checks.resumeFrom) : null;
  if (resumed) say(`resuming from ${resumed.dir} (step ${resumed.state.step})`);

  // 2. Tokenizer and data, before the model: data mistakes should not wait for a large load.
  const device = config.device ?? defaultDevice();
  const modelDir = await resolveModelPath(config.model_name_or_path);
  const tokenizer = await loadTokenizer(modelDir);
  let blockSize = resolveBlockSize(config.block_size, tokenizer, say);
  if (checks.contextLength !== null) blockSize = Math.min(blockSize, checks.contextLength);
  const data = await prepareData(config, tokenizer, blockSize, { runtime, onWarning: say });
  data.summary.forEach((line) => say(line));
  const padTokenId = padTokenIdOf(tokenizer);

  // 3. The model (the checkpoint's, when it holds a whole one) and what of it trains.
  manualSeed(config.seed);
  const model = await loadModel(resumed?.holdsModel ? resumed.dir : config.model_name_or_path, { device, dtype: config.torch_dtype, runtime });
  const floating = model.namedParameters().filter(([, t]) => isFloat(t.dtype));
  const trainable = runtime.model.hooks.trainableParams.call(floating, { model });
  const trains = new Set(trainable.map(([, t]) => t));
  for (const [, t] of model.namedParameters()) t.requiresGrad = trains.has(t);
  if (resumed && !resumed.holdsModel) await restoreTrainable(model, trainable, await resumed.readTrainable(device));
  const parameterCount = (list: readonly [string, Tensor][]) => list.reduce((n, [, t]) => n + t.size, 0);
  say(`model: ${model.modelType}, ${parameterCount(model.namedParameters()).toLocaleString('en-US')} parameters (${parameterCount(trainable).toLocaleString('en-US')} trainable), ${model.dtype} on ${model.device}`);

  // 4. Optimizer and learning-rate schedule (plugins may provide either).
  const plan = { samples: data.train.length, batchSize: config.per_device_train_batch_size, accumulation: config.gradient_accumulation_steps };
  const total = totalSteps(plan, config.num_train_epochs, config.max_steps);
  const optimizerContext = { options: config as Record<string, unknown>, totalSteps: total };
  const groups = runtime.optimizer.hooks.paramGroups.call(weightDecayGroups(trainable, config.weight_decay), optimizerContext);
  const optimizer =
    runtime.optimizer.hooks.createOptimizer.call(groups, optimizerContext) ??
    (config.optim === 'sgd'
      ? createSgd(groups, { lr: config.learning_rate, momentum: config.sgd_momentum, weightDecay: config.weight_decay })
      : createAdamW(groups, { lr: config.learning_rate, beta1: config.adam_beta1, beta2: config.adam_beta2, eps: config.adam_epsilon, weightDecay: config.weight_decay }));
  const schedule = createScheduler(config.lr_scheduler_type, { learningRate: config.learning_rate, totalSteps: total, warmupSteps: config.warmup_steps, warmupRatio: config.warmup_ratio });
  schedule.warnings.forEach((warning) => say(warning));
  const scheduler = runtime.optimizer.hooks.createScheduler.call(optimizerContext) ?? schedule;

  // 5. The run's state: fresh, or exactly where the checkpoint left it.
  const state: TrainerState = resumed
    ? { ...resumed.state, config: { ...config } }
    : { step: 0, epoch: 0, positionInEpoch: 0, microStep: 0, tokensSeen: 0, elapsedSeconds: 0, rng: captureRngState(config.seed), scheduler: schedule.state(), logHistory: [], config: { ...config } };
  if (resumed) {
    optimizer.loadStateDict(await resumed.readOptimizerState(device));
    restoreRngState(resumed.state.rng);
  }
  if (state.step >= total) say(`the run already did ${state.step} of ${total} steps`);

  // 6. Output: created only now, when everything has loaded (bad input leaves nothing behind).
  const outputDir = config.output_dir;
  await mkdir(outputDir, { recursive: true });
  const metrics = await openMetricsLog(outputDir, { resumeStep: resumed ? state.step : null });
  const progress = createProgress({ totalSteps: total, startStep: state.step, stream: progressStream });
  say = (line) => progress.log(line);
  const guard = createLossGuard({ resumedFrom: resumed ? { step: resumed.state.step, path: resumed.dir } : null });
  let lastCheckpoint: string | undefined;
  let pending: Record<string, number> = {};
  const trainState: TrainState = { epoch: state.epoch, step: state.step, microStep: state.microStep, tokensSeen: state.tokensSeen };
  const context: TrainerContext = { state: trainState, options: config as Record<string, unknown>, model, optimizer, log: (m) => Object.assign(pending, m) };

  const segmentStart = performance.now();
  const elapsed = () => state.elapsedSeconds + (performance.now() - segmentStart) / 1000;
  const saveCheckpoint = async () => {
    const snapshot: TrainerState = { ...state, rng: captureRngState(state.rng.dataSeed), elapsedSeconds: elapsed(), logHistory: metrics.records() };
    lastCheckpoint = await saveTrainingCheckpoint(outputDir, { model, trainable, optimizer, state: snapshot });
    guard.checkpointSaved(state.step, lastCheckpoint);
    if (config.save_total_limit !== undefined) await pruneCheckpoints(outputDir, config.save_total_limit, { protect: [state.step] });
    say(`saved ${lastCheckpoint}`);
  };
  let lastEval: number | undefined;
  const evaluate = async (when: 'step' | 'end') => {
    const reported: Record<string, number> = {};
    if (data.eval) {
      const result = evaluateLoss(model, data.eval, { batchSize: config.per_device_eval_batch_size, padTokenId });
      Object.assign(reported, { eval_loss: result.loss, eval_perplexity: result.perplexity });
      lastEval = result.loss;
    }
    await hooks.evaluate.promise({ ...context, when, report: (m) => Object.assign(reported, m) });
    if (Object.keys(reported).length === 0) return;
    metrics.append({ step: state.step, epoch: epochProgress(), ...reported });
    say(`step ${state.step}: ${Object.entries(reported).map(([k, v]) => `${k} ${format(v)}`).join(', ')}`);
  };
  const epochProgress = () => state.epoch + state.positionInEpoch / plan.samples;

  // 7. The loop.
  await hooks.beforeRun.promise(context);
  let status: FinetuneResult['status'] = 'completed';
  let message: string | undefined;
  let lastLoss = NaN;
  let logged = { loss: 0, steps: 0, tokens: 0, since: performance.now() };
  let currentEpoch = -1;

  for (const window of windows(plan, state.rng.dataSeed, { epoch: state.epoch, position: state.positionInEpoch })) {
    if (state.step >= total) break;
    if (window.epoch !== currentEpoch) {
      currentEpoch = window.epoch;
      trainState.epoch = window.epoch;
      if (window.epoch !== state.epoch || state.positionInEpoch === 0) hooks.beforeEpoch.call(context);
    }

    // Each micro-batch's loss is its summed token loss over the labeled tokens of the whole
    // window: the window's gradient is then exactly that of one batch k times larger.
    const samples = window.microBatches.map((indices) => indices.map((i) => data.train[i]!));
    const windowTokens = samples.flat().reduce((n, s) => n + s.labels.slice(1).filter((l) => l !== -100).length, 0);
    let windowLoss = 0;
    let stepContext: StepContext | null = null;
    for (const micro of samples) {
      const batch = collateBatch(micro, { padTokenId, device, runtime });
      stepContext = { ...context, batch };
      hooks.beforeStep.call(stepContext);
      const loss = tidy(() => {
        const logits = model.forward(batch.inputIds, { positions: batch.positions, ...(batch.segments ? { segments: batch.segments } : {}), gradientCheckpointing: config.gradient_checkpointing });
        return hooks.computeLoss.call(div(nextTokenLossSum(logits, batch.labels), Math.max(1, windowTokens)), stepContext!);
      });
      // The backward is queued before the loss is read: reading it waits for the device, and
      // waiting before the backward would leave a GPU idle while the host queues its first kernels.
      loss.backward();
      windowLoss += loss.item();
      loss.dispose();
      hooks.afterBackward.call(stepContext);
      const inputTokens = micro.reduce((n, s) => n + s.inputIds.length, 0);
      state.microStep++;
      state.tokensSeen += inputTokens;
      logged.tokens += inputTokens;
      for (const t of [batch.inputIds, batch.labels, batch.positions, batch.segments]) t?.dispose();
    }
    trainState.microStep = state.microStep;
    trainState.tokensSeen = state.tokensSeen;

    // A NaN or infinite loss stops the run before it touches the weights.
    const stop = guard.check(state.step + 1, windowLoss);
    if (stop) {
      status = 'stopped';
      message = stop;
      freeGrads(trainable.map(([, t]) => t));
      break;
    }
    if (hooks.shouldOptimizerStep.call(stepContext!) === false) continue; // gradients keep accumulating

    const clip = clipGradNorm(trainable, config.max_grad_norm > 0 ? config.max_grad_norm : Infinity);
    const learningRate = scheduler.learningRate(state.step + 1);
    noGrad(() => {
      optimizer.setLearningRate(learningRate);
      optimizer.step();
      optimizer.zeroGrad();
    });
    state.step++;
    trainState.step = state.step;
    const epochDone = window.positionAfter >= plan.samples;
    state.epoch = epochDone ? window.epoch + 1 : window.epoch;
    state.positionInEpoch = epochDone ? 0 : window.positionAfter;
    lastLoss = windowLoss;
    hooks.afterStep.call({ ...context, loss: windowLoss, learningRate });

    logged.loss += windowLoss;
    logged.steps++;
    const seconds = (performance.now() - logged.since) / 1000;
    progress.update({ step: state.step, epoch: epochProgress(), loss: windowLoss, learningRate, tokensPerSecond: logged.tokens / Math.max(seconds, 1e-9) });
    if (state.step % config.logging_steps === 0 || state.step === total) {
      const record: MetricRecord = {
        step: state.step,
        epoch: epochProgress(),
        loss: logged.loss / logged.steps,
        learning_rate: learningRate,
        grad_norm: clip.totalNorm,
        tokens_per_second: logged.tokens / Math.max(seconds, 1e-9),
        tokens_seen: state.tokensSeen,
        elapsed: elapsed(),
        ...pending,
      };
      metrics.append(record);
      pending = {};
      logged = { loss: 0, steps: 0, tokens: 0, since: performance.now() };
    }
    // Evaluation and checkpoint time is not training time: tokens/s leaves it out.
    const pauseStart = performance.now();
    if (config.eval_steps !== undefined && state.step % config.eval_steps === 0 && state.step < total) await evaluate('step');
    if (config.save_steps !== undefined && state.step % config.save_steps === 0 && state.step < total) await saveCheckpoint();
    logged.since += performance.now() - pauseStart;
    // Compute blocks the event loop; one turn per step lets signals (Ctrl-C) and I/O through.
    await new Promise((resolve) => setImmediate(resolve));
    if (options.signal?.aborted) {
      await saveCheckpoint();
      status = 'interrupted';
      message = `interrupted at step ${state.step}; resume with --resume_from_checkpoint ${lastCheckpoint}`;
      break;
    }
    if (hooks.shouldStop.call(context) === true) {
      say(`a plugin stopped the run at step ${state.step}`);
      break;
    }
  }

  // 8. The end: evaluate, save the model, write the report.
  if (status === 'completed') {
    await evaluate('end');
    await saveModel(model, outputDir);
    say(`saved the finetuned model to ${outputDir}`);
  }
  progress.finish();
  metrics.close();
  await writeReport(outputDir, {
    metrics: metrics.records(),
    config: { ...config },
    summary: {
      steps: state.step,
      totalSteps: total,
      epochs: epochProgress(),
      tokensSeen: state.tokensSeen,
      elapsedSeconds: elapsed(),
      status: status === 'completed' ? 'completed' : (message ?? status),
      device: model.device,
      outputDir,
      peakRssBytes: process.resourceUsage().maxRSS * 1024,
    },
  });
  await hooks.afterRun.promise(context);
  optimizerDispose(optimizer);
  model.dispose();
  return {
    status,
    step: state.step,
    totalSteps: total,
    outputDir,
    loss: lastLoss,
    ...(lastEval !== undefined ? { evalLoss: lastEval } : {}),
    ...(lastCheckpoint ? { checkpoint: lastCheckpoint } : {}),
    ...(message ? { message } : {}),
  };
}

/** Copies a checkpoint's trainable tensors into the model (resume on top of the base model). */
async function restoreTrainable(model: CausalLM, trainable: readonly [string, Tensor][], saved: Map<string, Tensor>): Promise<void> {
  noGrad(() => {
    for (const [name, t] of trainable) {
      const value = saved.get(name);
      if (!value) throw new Error(`checkpoint: trainable parameter "${name}" of ${model.source} is missing from it; was it written with other plugins or options?`);
      copy_(t, value);
    }
  });
  for (const t of saved.values()) t.dispose();
}

function optimizerDispose(optimizer: object): void {
  const dispose = (optimizer as { dispose?: () => void }).dispose;
  if (typeof dispose === 'function') dispose.call(optimizer);
}

function format(value: number): string {
  return Math.abs(value) >= 1000 || (Math.abs(value) < 1e-3 && value !== 0) ? value.toExponential(3) : value.toFixed(4);
}

