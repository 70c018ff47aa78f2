/**
 * The benchmark plugin: evaluations during training. It taps the trainer's `evaluate` hook,
 * which the finetune recipe calls every --eval_steps and at the end, runs each dataset with the
 * model being trained, and reports one figure per dataset (eval_<name>_<figure>: nll,
 * perplexity or accuracy), which the recipe writes to metrics.jsonl with the training metrics.
 *
 * Datasets are loaded, and every sample checked and tokenized, in `beforeRun` (before the first
 * training step), so a bad dataset fails at once, not after an hour of training.
 */
import type { Plugin } from '@lmflow/core';
import { loadTokenizer, type Tokenizer } from '@lmflow/data';
import { planEvaluation, runEvaluation, type AnswerType, type EvaluationPlan, type EvaluationResult, type Metric } from '@lmflow/evaluate';
import { resolveModelPath, type CausalLM } from '@lmflow/models';
import { loadBenchmarkEntries } from './suite.js';

export const BENCHMARK_PLUGIN_NAME = 'benchmark';

export interface BenchmarkOptions {
  /** Suite set names (stories, everyday, science, instructions) or LMFlow dataset paths. */
  datasets: string[];
  /** @default 'nll' */
  metric?: Metric;
  /** accuracy and mc_loglik: how answers are read. @default as `lmflow evaluate` */
  answerType?: AnswerType;
  /**
   * Run at the evaluate calls whose step is a multiple of this (the recipe calls the hook every
   * --eval_steps), and always at the end. @default every call
   */
  everySteps?: number;
  /** Evaluate the first N instances of each dataset. @default all */
  maxSamples?: number;
  /** @default 8 */
  batchSize?: number;
  /** accuracy: most tokens per answer. @default 100 */
  maxNewTokens?: number;
}

/** The figure a metric reports per dataset. */
const HEADLINE: Record<Metric, string> = { nll: 'nll', ppl: 'perplexity', accuracy: 'accuracy', mc_loglik: 'accuracy' };

export function benchmark(options: BenchmarkOptions): Plugin {
  const metric = options.metric ?? 'nll';
  if (!Array.isArray(options.datasets) || options.datasets.length === 0) {
    throw new Error('benchmark: options.datasets must list at least one suite set or dataset path');
  }
  if (options.everySteps !== undefined && !(Number.isSafeInteger(options.everySteps) && options.everySteps >= 1)) {
    throw new Error(`benchmark: options.everySteps is ${options.everySteps}, expected an integer >= 1`);
  }
  let tokenizer: Tokenizer | null = null;
  let plans: { name: string; plan: EvaluationPlan }[] = [];

  return {
    name: BENCHMARK_PLUGIN_NAME,
    apply(runtime) {
      const hooks = runtime.trainer.hooks;
      hooks.beforeRun.tapPromise(BENCHMARK_PLUGIN_NAME, async (context) => {
        const modelPath = context.options.model_name_or_path;
        if (typeof modelPath !== 'string') throw new Error('the run has no model_name_or_path to read the tokenizer from');
        tokenizer = await loadTokenizer(await resolveModelPath(modelPath));
        const entries = await loadBenchmarkEntries(options.datasets);
        plans = entries.map(({ name, dataset }) => ({
          name,
          plan: planEvaluation(dataset, tokenizer!, {
            metric,
            ...(options.answerType !== undefined && { answerType: options.answerType }),
            ...(options.maxSamples !== undefined && { maxSamples: options.maxSamples }),
            ...(options.batchSize !== undefined && { batchSize: options.batchSize }),
            ...(options.maxNewTokens !== undefined && { maxNewTokens: options.maxNewTokens }),
          }),
        }));
      });

      hooks.evaluate.tapPromise(BENCHMARK_PLUGIN_NAME, async (context) => {
        if (context.when === 'step' && options.everySteps !== undefined && context.state.step % options.everySteps !== 0) return;
        if (!tokenizer) throw new Error('evaluate was called before beforeRun');
        const model = context.model as CausalLM;
        const reported: Record<string, number> = {};
        for (const { name, plan } of plans) {
          const result: EvaluationResult = await runEvaluation(plan, { model, tokenizer });
          reported[`eval_${name}_${HEADLINE[metric]}`] = result.summary[HEADLINE[metric]]!;
        }
        context.report(reported);
      });
    },
  };
}
