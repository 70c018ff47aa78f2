/**
 * The flags that switch the benchmark plugin on in `lmflow finetune`: --benchmark_datasets
 * (suite set names or dataset paths), and how to evaluate them.
 */
import { ConfigError, defineOptions, type PluginOption } from '@lmflow/core';
import { ANSWER_TYPES, METRICS, type AnswerType, type Metric } from '@lmflow/evaluate';
import { benchmark } from './benchmark-plugin.js';
import { BENCHMARK_SUITE } from './suite.js';

export const benchmarkOptions = defineOptions('Benchmark', {
  benchmark_datasets: {
    type: 'list',
    items: 'string',
    description: `Evaluate these during training (every --eval_steps and at the end) and log the figures with the training metrics: names of the shipped suite sets (${BENCHMARK_SUITE.map((s) => s.name).join(', ')}) or LMFlow dataset paths.`,
  },
  benchmark_metric: { type: 'enum', values: METRICS, default: 'nll', description: 'What to compute on each benchmark dataset (as lmflow evaluate --metric).' },
  benchmark_answer_type: { type: 'enum', values: ANSWER_TYPES, description: 'accuracy and mc_loglik: how answers are read (as lmflow evaluate --answer_type).' },
  benchmark_steps: {
    type: 'integer',
    min: 1,
    description: 'Run the benchmarks only at evaluations whose step is a multiple of this (a multiple of --eval_steps); they always run at the end. Default: at every evaluation.',
  },
  benchmark_max_samples: { type: 'integer', min: 1, description: 'Use the first N instances of each benchmark dataset. Default: all.' },
});

/** The plugin for a finetune configuration, or false when --benchmark_datasets is not given. */
export function benchmarkFromConfig(config: Readonly<Record<string, unknown>>): PluginOption {
  const datasets = config.benchmark_datasets as string[] | undefined;
  if (datasets === undefined || datasets.length === 0) return false;
  const steps = config.benchmark_steps as number | undefined;
  const evalSteps = config.eval_steps as number | undefined;
  if (steps !== undefined && (evalSteps === undefined || steps % evalSteps !== 0)) {
    throw new ConfigError(
      `--benchmark_steps ${steps} must be a multiple of --eval_steps (${evalSteps ?? 'unset'}): the benchmarks run at the recipe's evaluations, which happen every --eval_steps steps and at the end`,
      { option: 'benchmark_steps' },
    );
  }
  return benchmark({
    datasets,
    metric: config.benchmark_metric as Metric,
    ...(config.benchmark_answer_type !== undefined && { answerType: config.benchmark_answer_type as AnswerType }),
    ...(steps !== undefined && { everySteps: steps }),
    ...(config.benchmark_max_samples !== undefined && { maxSamples: config.benchmark_max_samples as number }),
    ...(config.per_device_eval_batch_size !== undefined && { batchSize: config.per_device_eval_batch_size as number }),
  });
}
