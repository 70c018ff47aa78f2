/**
 * saveModel: a CausalLM to a Hugging Face folder that transformers loads with
 * from_pretrained: config.json (with "architectures" and "torch_dtype" of the saved weights),
 * safetensors under Hugging Face names with { format: "pt" } metadata, sharded above
 * maxShardSize, and the tokenizer and generation files of the folder the model came from.
 *
 * A stateDict tap that keeps an adapter rather than the model (LoRA) marks its map with
 * `adapterFiles` (see AdapterFiles): the folder is then an adapter folder as PEFT writes it,
 * the tensors in one file under the adapter's name beside its config, and no config.json (the
 * folder is not a whole model; transformers and PEFT load it onto the base model it names).
 */
import { copyFile, mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { DType, Tensor } from '@lmflow/tensor';
import type { ModelConfig } from '@lmflow/core';
import { architectureFor } from '../architectures/registry.js';
import { saveCheckpoint, type SaveCheckpointOptions } from '../safetensors/checkpoint.js';
import { saveSafetensors } from '../safetensors/write.js';
import { writeTextAtomic } from '../util/atomic-write.js';
import { MODEL_SIDE_FILES } from '../hub/download.js';
import type { CausalLM } from './causal-lm.js';

/**
 * Attached by a stateDict tap to the map it returns (`Object.assign(tensors, { adapterFiles })`)
 * when what it keeps is an adapter: saveModel writes the tensors to `weightsFile` (one file,
 * { format: "pt" }) and `config` as JSON to `configFile`, instead of the model's weights and
 * config.json.
 */
export interface AdapterFiles {
  /** e.g. "adapter_model.safetensors" */
  readonly weightsFile: string;
  /** e.g. "adapter_config.json" */
  readonly configFile: string;
  readonly config: Readonly<Record<string, unknown>>;
}

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
  let adapter: AdapterFiles | null = null;
  try {
    const finalTensors: Map<string, Tensor> & { adapterFiles?: AdapterFiles } = model.runtime ? model.runtime.model.hooks.stateDict.call(tensors, { model }) : tensors;
    adapter = finalTensors.adapterFiles ?? null;
    if (adapter) {
      await saveSafetensors(path.join(dir, adapter.weightsFile), finalTensors, { metadata: { format: 'pt' } });
      written = [adapter.weightsFile];
    } else {
      written = await saveCheckpoint(dir, finalTensors, options);
    }
  } finally {
    for (const t of temporary) t.dispose();
  }
  if (adapter) {
    await writeTextAtomic(path.join(dir, adapter.configFile), `${JSON.stringify(adapter.config, null, 2)}\n`);
    written.push(adapter.configFile);
  } else {
    await writeTextAtomic(path.join(dir, 'config.json'), `${JSON.stringify(configToSave(model), null, 2)}\n`);
    written.push('config.json');
  }
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
