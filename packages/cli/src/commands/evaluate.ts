/**
 * `lmflow evaluate`: a model's numbers on an LMFlow dataset (perplexity, NLL, answer accuracy,
 * multiple choice by log-likelihood), with a progress line, a summary table on stdout and every
 * sample in results.json. The dataset, the flags and every gold answer are checked, and the
 * prompts tokenized, before the model loads.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { createRuntime } from '@lmflow/core';
import { describeDataset, loadDataset, loadTokenizer } from '@lmflow/data';
import { createProgressLine, evaluateOptions, evaluateOptionsFromFlags, formatSummary, planEvaluation, runEvaluation, writeResults } from '@lmflow/evaluate';
import { loadGenerator } from '@lmflow/inference';
import { resolveModelPath } from '@lmflow/models';
import { loraAdapterOptions, loraFromConfig } from '@lmflow/plugin-lora';
import { defineCommand } from '../command.js';
import { modelFlags } from './generate.js';

export const evaluateCommand = defineCommand({
  name: 'evaluate',
  summary: 'Evaluate a model on a dataset: perplexity, NLL, answer accuracy or multiple choice.',
  description:
    "Computes --metric on an LMFlow dataset: ppl (perplexity of text_only data with a sliding window), nll (LMFlow's: mean over samples of the summed negative log-likelihood of the output tokens), accuracy (greedy answers read by --answer_type and compared with the gold outputs; unreadable answers count as wrong and are listed) or mc_loglik (the option with the highest log-likelihood). Prints a summary table and writes results.json with every sample to --output_dir.",
  examples: [
    'lmflow evaluate --model_name_or_path output_models/medmcqa --dataset_path data/medmcqa-dev --metric accuracy --answer_type medmcqa --max_new_tokens 8',
    'lmflow evaluate --model_name_or_path models/stories260K --dataset_path data/wikitext --metric ppl',
    'lmflow evaluate --model_name_or_path Qwen/Qwen3-0.6B --dataset_path data/mmlu --metric mc_loglik --answer_type mmlu --choice_format letter',
  ],
  options: [modelFlags, loraAdapterOptions, evaluateOptions],
  async run(config, { io, log }) {
    const options = evaluateOptionsFromFlags(config);
    const dataset = await loadDataset(config.dataset_path);
    log(describeDataset(dataset));
    const local = path.resolve(io.cwd, config.model_name_or_path);
    const modelDir = await resolveModelPath(existsSync(local) ? local : config.model_name_or_path);
    // Everything that can be wrong with the data or the flags fails here, before the model loads.
    const plan = planEvaluation(dataset, await loadTokenizer(modelDir), options);

    const runtime = createRuntime({ plugins: [loraFromConfig(config)] });
    const generator = await loadGenerator(modelDir, {
      device: config.device ?? 'cpu',
      runtime,
      ...(config.torch_dtype !== undefined && { dtype: config.torch_dtype as 'auto' | 'float32' | 'bfloat16' | 'float16' }),
    });
    try {
      const unit = plan.metric === 'ppl' ? 'windows' : plan.metric === 'mc_loglik' ? 'options' : 'samples';
      const progress = createProgressLine(io.stderr, `evaluating ${plan.metric}`, unit);
      const result = await runEvaluation(plan, { model: generator.model, tokenizer: generator.tokenizer, generator, onProgress: (done, total) => progress.update(done, total) });
      progress.finish();
      result.notes.forEach((note) => log(`note: ${note}`));
      const header = {
        model: config.model_name_or_path,
        dataset: config.dataset_path,
        options: { ...config, ...(config.lora_model_path === undefined ? {} : { lora_model_path: config.lora_model_path }) },
      };
      const file = await writeResults(config.output_dir, header, result);
      io.stdout.write(`${formatSummary(result, header)}\n`);
      log(`wrote ${file}`);
    } finally {
      generator.model.dispose();
    }
  },
});
