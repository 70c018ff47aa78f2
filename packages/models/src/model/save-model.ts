/**
 * saveModel: a CausalLM to a Hugging Face folder that transformers loads with
 * from_pretrained: config.json (with "architectures" and "torch_dtype" of the saved weights),
 * safetensors under Hugging Face names with { format: "pt" } metadata, sharded above
 * maxShardSize, and the tokenizer and generation files of the folder the model came from.
 */
import { copyFile, mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { DType, Tensor } from '@lmflow/tensor';
import type { ModelConfig } from '@lmflow/core';
import { architectureFor } from '../architectures/registry.js';
import { saveCheckpoint, type SaveCheckpointOptions } from '../safetensors/checkpoint.js';
import { writeTextAtomic } from '../util/atomic-write.js';
import { MODEL_SIDE_FILES } from '../hub/download.js';
import type { CausalLM } from './causal-lm.js';

export interface SaveModelOptions extends SaveCheckpointOptions {
  /** Copy tokenizer and generation files from the model's source folder. @default true */
  copySideFiles?: boolean;
}

const TORCH_DTYPES: Partial<Record<DType, string>> = { f32: 'float32', bf16: 'bfloat16', f16: 'float16', f64: 'float64' };

/** Saves a model into dir (created if needed); returns the files written or copied. */
export async function saveModel(model: CausalLM, dir: string, options: SaveModelOptions = {}): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const { tensors, temporary } = model.stateDict();
  let written: string[];
  try {
    const finalTensors: Map<string, Tensor> = model.runtime ? model.runtime.model.hooks.stateDict.call(tensors, { model }) : tensors;
    written = await saveCheckpoint(dir, finalTensors, options);
  } finally {
    for (const t of temporary) t.dispose();
  }
  await writeTextAtomic(path.join(dir, 'config.json'), `${JSON.stringify(configToSave(model), null, 2)}\n`);
  written.push('config.json');
  if (options.copySideFiles !== false && model.source && path.resolve(model.source) !== path.resolve(dir)) {
    for (const file of MODEL_SIDE_FILES) {
      const from = path.join(model.source, file);
      if (!existsSync(from)) continue;
      await copyFile(from, path.join(dir, file));
      written.push(file);
    }
  }
  return written;
}

function configToSave(model: CausalLM): ModelConfig {
  const architecture = architectureFor(model.config, 'of the model');
  const config: ModelConfig = { ...model.config };
  if (!Array.isArray(config.architectures) || config.architectures.length === 0) config.architectures = [architecture.className(model.config)];
  const torchDType = TORCH_DTYPES[model.dtype];
  if (torchDType) {
    // transformers 4.56+ reads "dtype"; older versions read "torch_dtype". Keep whichever the
    // source had, with the dtype actually saved.
    if ('dtype' in config) config.dtype = torchDType;
    if ('torch_dtype' in config || !('dtype' in config)) config.torch_dtype = torchDType;
  }
  return config;
}
