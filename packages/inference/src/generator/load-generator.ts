/**
 * A Generator from a model folder or Hugging Face id: the model, its tokenizer and its
 * generation_config.json, all from the same folder.
 */
import type { Runtime } from '@lmflow/core';
import { loadModel, loadTokenizer, resolveModelPath, type HubOptions, type ModelDType } from '@lmflow/models';
import { loadGenerationConfig } from '../options/generation-config.js';
import { createGenerator, type Generator } from './create-generator.js';

export interface LoadGeneratorOptions {
  /** 'cpu', 'reference', 'cuda:0', ... @default the default device */
  device?: string;
  /** Parameter dtype; 'auto' keeps the checkpoint's. @default 'float32' (as loadModel) */
  dtype?: ModelDType;
  /** Plugins: model hooks while loading, decoder hooks while generating. */
  runtime?: Runtime;
  /** Where and how a hub id is fetched. */
  hub?: HubOptions;
}

export async function loadGenerator(modelNameOrPath: string, options: LoadGeneratorOptions = {}): Promise<Generator> {
  const dir = await resolveModelPath(modelNameOrPath, options.hub);
  const [tokenizer, generationConfig] = await Promise.all([loadTokenizer(dir), loadGenerationConfig(dir)]);
  const model = await loadModel(dir, {
    ...(options.device !== undefined && { device: options.device }),
    ...(options.dtype !== undefined && { dtype: options.dtype }),
    ...(options.runtime !== undefined && { runtime: options.runtime }),
  });
  return createGenerator(model, tokenizer, { generationConfig, ...(options.runtime !== undefined && { runtime: options.runtime }) });
}
