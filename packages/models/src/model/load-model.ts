/**
 * loadModel: a Hugging Face model folder (or hub id) to a CausalLM, with the model hooks at
 * their points:
 *
 *   config.json -> model.hooks.configure -> typed config -> weights (converted, checked)
 *     -> modules built, each through model.hooks.wrapModule -> model.hooks.afterLoadWeights
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { defaultDevice, normalizeDevice, type DType } from '@lmflow/tensor';
import type { Module, ModelConfig, ModelContext, Runtime } from '@lmflow/core';
import { architectureFor } from '../architectures/registry.js';
import { ConfigError } from '../config/fields.js';
import { findWeightFiles, loadCheckpoint } from '../safetensors/checkpoint.js';
import { readSafetensorsHeader } from '../safetensors/read.js';
import { tensorDTypeOf } from '../safetensors/dtypes.js';
import { resolveModelPath, type HubOptions } from '../hub/resolve-model.js';
import { checkWeights } from './weights.js';
import { createCausalLM, type CausalLM } from './causal-lm.js';

/** torch_dtype names, and the tensor package's names for the same types. */
export type ModelDType = 'auto' | 'float32' | 'bfloat16' | 'float16' | 'f32' | 'bf16' | 'f16';

const DTYPES: Record<Exclude<ModelDType, 'auto'>, DType> = { float32: 'f32', bfloat16: 'bf16', float16: 'f16', f32: 'f32', bf16: 'bf16', f16: 'f16' };

export interface LoadModelOptions {
  /** 'cpu', 'reference', 'cuda:0', ... @default the default device */
  device?: string;
  /**
   * Parameter dtype. 'auto' keeps the checkpoint's: config.json "torch_dtype" (or "dtype"),
   * else the dtype of its first floating-point tensor. @default 'float32' (as transformers)
   */
  dtype?: ModelDType;
  /** Plugins' hooks: configure, wrapModule, afterLoadWeights. @default none */
  runtime?: Runtime;
  /** Where and how a hub id is fetched. */
  hub?: HubOptions;
}

/** Loads a causal LM from a model folder or a Hugging Face model id. */
export async function loadModel(pathOrId: string, options: LoadModelOptions = {}): Promise<CausalLM> {
  const device = normalizeDevice(options.device ?? defaultDevice());
  const dir = await resolveModelPath(pathOrId, options.hub);
  const source = pathOrId;
  const configFile = path.join(dir, 'config.json');
  const raw = await readConfigJson(configFile);
  const runtime = options.runtime ?? null;
  const context: ModelContext = { source, config: raw, device };
  const configured = runtime ? runtime.model.hooks.configure.call(raw, context) : raw;
  const architecture = architectureFor(configured, configFile);
  const config = architecture.parseConfig(configured, configFile);
  const dtype = await resolveDType(options.dtype ?? 'float32', config, dir);

  const { tensors } = await loadCheckpoint(dir, { device, dtype });
  const weights = checkWeights(tensors, architecture.expectedWeights(config), architecture, config, dir);
  const modelContext: ModelContext = { source, config, device };
  const wrap = <M extends Module>(module: M, layer: number): M =>
    runtime ? (runtime.model.hooks.wrapModule.for(module.kind).call(module, { ...modelContext, layer }) as M) : module;
  let core;
  try {
    core = architecture.build(config, weights, { device, dtype, wrap });
  } catch (error) {
    for (const t of weights.values()) t.dispose();
    throw error;
  }
  const model = createCausalLM(core, { config, source: dir, device, dtype, runtime });
  if (runtime) {
    try {
      await runtime.model.hooks.afterLoadWeights.promise(model, modelContext);
    } catch (error) {
      model.dispose();
      throw error;
    }
  }
  return model;
}

async function readConfigJson(file: string): Promise<ModelConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && existsSync(path.join(path.dirname(file), 'adapter_config.json'))) {
      throw new ConfigError(
        `${path.dirname(file)} is a LoRA adapter folder (adapter_config.json, no config.json): pass its base model as --model_name_or_path and this folder as --lora_model_path`,
      );
    }
    throw new ConfigError(`${file}: cannot read config.json (${code === 'ENOENT' ? 'no such file: a model folder needs one' : (code ?? (error as Error).message)})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`config.json ${file}: not valid JSON (${(error as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new ConfigError(`config.json ${file}: expected a JSON object`);
  return json as ModelConfig;
}

async function resolveDType(requested: ModelDType, config: ModelConfig, dir: string): Promise<DType> {
  if (requested !== 'auto') {
    const dtype = DTYPES[requested];
    if (!dtype) throw new Error(`loadModel: dtype ${JSON.stringify(requested)} is not one of auto, float32, bfloat16, float16 (or f32, bf16, f16)`);
    return dtype;
  }
  const declared = config.torch_dtype ?? config.dtype;
  if (declared !== undefined && declared !== null && declared !== 'auto') {
    const dtype = DTYPES[declared as keyof typeof DTYPES];
    if (!dtype) throw new ConfigError(`config.json ${path.join(dir, 'config.json')}: "torch_dtype" is ${JSON.stringify(declared)}, expected "float32", "bfloat16" or "float16"`);
    return dtype;
  }
  const [first] = await findWeightFiles(dir);
  const header = await readSafetensorsHeader(first!.file);
  for (const entry of header.entries) {
    const dtype = tensorDTypeOf(entry.dtype);
    if (dtype === 'f32' || dtype === 'bf16' || dtype === 'f16') return dtype;
  }
  return 'f32';
}
