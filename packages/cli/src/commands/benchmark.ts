/**
 * `lmflow benchmark`: the LMFlow-benchmark style suite, the negative log-likelihood of a model
 * on small text sets in several domains that this project ships (or on datasets given by
 * path), as a table. Lower is better; run it on two models to compare them.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { createRuntime, defineOptions } from '@lmflow/core';
import { loadGenerator } from '@lmflow/inference';
import { resolveModelPath } from '@lmflow/models';
import { BENCHMARK_SUITE, formatBenchmarkTable, loadBenchmarkEntries, runBenchmarkSuite } from '@lmflow/plugin-benchmark';
import { loraAdapterOptions, loraFromConfig } from '@lmflow/plugin-lora';
import { defineCommand } from '../command.js';
import { modelFlags } from './generate.js';

export const benchmarkFlags = defineOptions('Benchmark', {
  datasets: {
    type: 'list',
    items: 'string',
    default: BENCHMARK_SUITE.map((set) => set.name),
    description: `The sets to measure: names of the shipped sets (${BENCHMARK_SUITE.map((s) => `${s.name}: ${s.description}`).join('; ')}) or paths of LMFlow datasets (text_only, text2text or conversation). Default: every shipped set.`,
  },
  batch_size: { type: 'integer', min: 1, default: 8, description: 'Texts per forward pass.' },
  max_samples: { type: 'integer', min: 1, description: 'Use the first N texts of each set. Default: all.' },
  json: { type: 'boolean', default: false, description: 'Print the rows as JSON lines instead of a table.' },
});

export const benchmarkCommand = defineCommand({
  name: 'benchmark',
  summary: 'Negative log-likelihood of a model on small text sets in several domains, as a table.',
  description:
    "The LMFlow-benchmark style suite: for each set, the mean over its texts of the summed negative log-likelihood (LMFlow's nll), the NLL per token and the perplexity. The shipped sets (24 short texts each, written for this project) cover stories, everyday commonsense, science and instructions; --datasets also takes your own LMFlow datasets.",
  examples: ['lmflow benchmark --model_name_or_path models/stories260K', 'lmflow benchmark --model_name_or_path output_models/finetuned --datasets science data/my-domain --json'],
  options: [modelFlags, loraAdapterOptions, benchmarkFlags],
  async run(config, { io, log }) {
    const datasets = config.datasets.map((entry) => (BENCHMARK_SUITE.some((set) => set.name === entry) ? entry : path.resolve(io.cwd, entry)));
    const entries = await loadBenchmarkEntries(datasets);
    const local = path.resolve(io.cwd, config.model_name_or_path);
    const modelDir = await resolveModelPath(existsSync(local) ? local : config.model_name_or_path);
    const runtime = createRuntime({ plugins: [loraFromConfig(config)] });
    const generator = await loadGenerator(modelDir, {
      device: config.device ?? 'cpu',
      runtime,
      ...(config.torch_dtype !== undefined && { dtype: config.torch_dtype as 'auto' | 'float32' | 'bfloat16' | 'float16' }),
    });
    try {
      const rows = await runBenchmarkSuite(generator.model, generator.tokenizer, entries, {
        batchSize: config.batch_size,
        ...(config.max_samples !== undefined && { maxSamples: config.max_samples }),
        onSet: (name) => log(`measuring ${name}`),
      });
      io.stdout.write(config.json ? rows.map((row) => `${JSON.stringify(row)}\n`).join('') : `${formatBenchmarkTable(rows)}\n`);
    } finally {
      generator.model.dispose();
    }
  },
});
