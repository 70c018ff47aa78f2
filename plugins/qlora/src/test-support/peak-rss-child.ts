/**
 * Child process of the QLoRA memory test: one short LoRA finetune, with (qlora) or without
 * (lora) NF4 base weights, then the process's peak RSS in bytes as JSON on stdout. A process
 * per run, so each peak is its own.
 *
 *   node --import tsx --conditions=lmflow-source peak-rss-child.ts <model dir> <dataset> <output dir> <qlora|lora>
 */
import { createRuntime } from '@lmflow/core';
import { finetune, type FinetuneConfig } from '@lmflow/train';
import { loraFromConfig } from '@lmflow/plugin-lora';
import { qloraFromConfig } from '../qlora-options.js';
import { finetuneConfig } from './fixtures.js';

const [model, dataset, output, mode] = process.argv.slice(2);
const config = finetuneConfig([
  '--model_name_or_path', model!, '--dataset_path', dataset!, '--output_dir', output!,
  '--block_size', '128', '--per_device_train_batch_size', '4', '--max_steps', '1', '--learning_rate', '1e-3',
  '--lora_target_modules', 'all-linear', '--logging_steps', '1', '--seed', '3',
  ...(mode === 'qlora' ? ['--use_qlora'] : ['--use_lora']),
]);
const plugins = [loraFromConfig(config), ...qloraFromConfig(config, loraFromConfig)];
const result = await finetune(config as unknown as FinetuneConfig, { runtime: createRuntime({ plugins }), log: () => undefined, progressStream: { write: () => true } });
process.stdout.write(`${JSON.stringify({ peakRss: process.resourceUsage().maxRSS * 1024, loss: result.loss, status: result.status })}\n`);
