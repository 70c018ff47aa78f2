/**
 * `lmflow merge-lora`: a base model plus a LoRA/DoRA adapter (PEFT's folder) written as one
 * plain Hugging Face model, W' = W + alpha/r * B @ A in each adapted linear (DoRA: rescaled
 * per output row by its magnitude), as LMFlow's examples/merge_lora.py and PEFT's
 * merge_and_unload do. The result loads anywhere without the adapter and runs at base speed.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, defineOptions } from '@lmflow/core';
import { loadModel, saveModel, type ModelDType } from '@lmflow/models';
import { mergeLoraAdapter } from '@lmflow/plugin-lora';
import { defineCommand } from '../command.js';
import { checkDevice } from '../device-option.js';

export const mergeLoraOptions = defineOptions('Merge', {
  model_name_or_path: { type: 'string', required: true, description: 'The base model the adapter was trained on: a Hugging Face folder or hub id.' },
  lora_model_path: {
    type: 'path',
    required: true,
    mustExist: 'directory',
    description: 'The adapter folder: adapter_config.json + adapter_model.safetensors (lmflow finetune --use_lora, or PEFT).',
  },
  output_model_path: { type: 'path', required: true, description: 'Where to write the merged model (config.json, model.safetensors, tokenizer files).' },
  torch_dtype: {
    type: 'enum',
    values: ['auto', 'float32', 'bfloat16', 'float16'],
    default: 'auto',
    description: "Dtype of the merged weights; auto keeps the base checkpoint's. The sum is computed in float32 either way.",
  },
  device: {
    type: 'string',
    default: 'cpu',
    validate: checkDevice,
    description: 'Where the merge computes: cpu, reference or cuda:N.',
  },
});

export const mergeLoraCommand = defineCommand({
  name: 'merge-lora',
  summary: 'Merge a LoRA adapter into its base model, writing a plain Hugging Face model.',
  description:
    'Loads --model_name_or_path, adds the adapter of --lora_model_path to the weights it adapts (W + lora_alpha/r * B @ A; DoRA adapters rescale each output row to their magnitude) and saves the result to --output_model_path: a model that computes what base + adapter computed, loadable without any adapter support.',
  examples: ['lmflow merge-lora --model_name_or_path models/stories260K --lora_model_path output_models/lora --output_model_path output_models/merged'],
  options: [mergeLoraOptions],
  async run(config, { io, log }) {
    const output = config.output_model_path;
    const local = path.resolve(io.cwd, config.model_name_or_path);
    const base = existsSync(local) ? local : config.model_name_or_path;
    for (const [flag, dir] of [['--model_name_or_path', base], ['--lora_model_path', config.lora_model_path]] as const) {
      if (path.resolve(output) === path.resolve(dir)) {
        throw new ConfigError(`--output_model_path ${output} is the folder of ${flag}; write the merged model to another folder`, { option: 'output_model_path' });
      }
    }
    if (existsSync(path.join(output, 'config.json'))) {
      throw new ConfigError(`--output_model_path ${output} already holds a model (config.json); choose another folder or remove it`, { option: 'output_model_path' });
    }
    const model = await loadModel(base, { device: config.device, dtype: config.torch_dtype as ModelDType });
    try {
      const { config: adapter, merged } = await mergeLoraAdapter(model, config.lora_model_path);
      await saveModel(model, output);
      log(`merged a ${adapter.useDora ? 'DoRA' : 'LoRA'} adapter (r ${adapter.r}, alpha ${adapter.alpha}) into ${merged.length} linear layers; wrote ${model.dtype} weights to ${output}`);
    } finally {
      model.dispose();
    }
  },
});
