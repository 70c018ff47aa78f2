/**
 * PEFT's adapter folder, so adapters move between LMFlow.ts and Python (peft, transformers,
 * vLLM) unchanged:
 *   adapter_config.json        LoraConfig as PEFT's save_pretrained writes it
 *   adapter_model.safetensors  base_model.model.<module path>.lora_A.weight  (r, in)
 *                              base_model.model.<module path>.lora_B.weight  (out, r)
 *                              base_model.model.<module path>.lora_magnitude_vector  (out), DoRA
 * Module paths are the Hugging Face ones (model.layers.0.self_attn.q_proj); the adapter name
 * ("default") is not in the file, as PEFT leaves it out.
 */
import { LoraError } from './lora-error.js';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { checkTargetModules, type TargetModules } from './target-modules.js';

export const ADAPTER_CONFIG_FILE = 'adapter_config.json';
export const ADAPTER_WEIGHTS_FILE = 'adapter_model.safetensors';
/** PeftModel -> LoraModel -> the transformers model: the prefix of every saved name. */
export const PEFT_PREFIX = 'base_model.model.';

/** The adapter tensors of one module, by their PEFT suffix. */
export const PEFT_SUFFIXES = { loraA: 'lora_A.weight', loraB: 'lora_B.weight', magnitude: 'lora_magnitude_vector' } as const;
export type AdapterPart = keyof typeof PEFT_SUFFIXES;

export function peftTensorName(modulePath: string, part: AdapterPart): string {
  return `${PEFT_PREFIX}${modulePath}.${PEFT_SUFFIXES[part]}`;
}

/** Splits a saved name into module path and part, or null when it is not a LoRA tensor name. */
export function parsePeftTensorName(name: string): { module: string; part: AdapterPart } | null {
  if (!name.startsWith(PEFT_PREFIX)) return null;
  const rest = name.slice(PEFT_PREFIX.length);
  for (const [part, suffix] of Object.entries(PEFT_SUFFIXES) as [AdapterPart, string][]) {
    // Some PEFT versions kept ".weight" on the DoRA magnitude; both mean the same tensor.
    for (const ending of part === 'magnitude' ? [suffix, `${suffix}.weight`] : [suffix]) {
      if (rest.endsWith(`.${ending}`)) return { module: rest.slice(0, -ending.length - 1), part };
    }
  }
  return null;
}

/** What an adapter is, whether read from adapter_config.json or set by options. */
export interface AdapterSettings {
  r: number;
  alpha: number;
  dropout: number;
  targetModules: TargetModules;
  useDora: boolean;
  useRslora: boolean;
}

export interface AdapterConfigFields extends AdapterSettings {
  baseModelNameOrPath: string | null;
  /** GPT-2 stores Conv1D weights (in, out); PEFT records it so merges transpose. */
  fanInFanOut: boolean;
}

/** adapter_config.json as PEFT writes it (LoraConfig fields every PEFT since 0.9 reads). */
export function adapterConfigJson(fields: AdapterConfigFields): Record<string, unknown> {
  return {
    peft_type: 'LORA',
    task_type: 'CAUSAL_LM',
    base_model_name_or_path: fields.baseModelNameOrPath,
    revision: null,
    inference_mode: true,
    r: fields.r,
    lora_alpha: fields.alpha,
    lora_dropout: fields.dropout,
    target_modules: typeof fields.targetModules === 'string' ? fields.targetModules : [...fields.targetModules],
    bias: 'none',
    fan_in_fan_out: fields.fanInFanOut,
    modules_to_save: null,
    init_lora_weights: true,
    layers_to_transform: null,
    layers_pattern: null,
    rank_pattern: {},
    alpha_pattern: {},
    use_rslora: fields.useRslora,
    use_dora: fields.useDora,
  };
}

export interface AdapterConfig extends AdapterConfigFields {
  /** The adapter_config.json read. */
  readonly file: string;
}

/**
 * Reads and checks an adapter folder's adapter_config.json. Fields that would change what the
 * adapter computes and that this plugin does not implement are refused, naming the field,
 * rather than ignored (the adapter would load and silently give other outputs).
 */
export function readAdapterConfig(dir: string): AdapterConfig {
  const file = path.join(dir, ADAPTER_CONFIG_FILE);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new LoraError(
      code === 'ENOENT'
        ? `LoRA adapter ${dir}: no ${ADAPTER_CONFIG_FILE}; an adapter folder (PEFT's save_pretrained, or lmflow finetune --use_lora) holds ${ADAPTER_CONFIG_FILE} and ${ADAPTER_WEIGHTS_FILE}`
        : `${file}: cannot read (${code ?? (error as Error).message})`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new LoraError(`${file}: not valid JSON (${(error as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new LoraError(`${file}: expected a JSON object`);
  const c = json as Record<string, unknown>;
  const fail = (field: string, expected: string): never => {
    throw new LoraError(`${file}: "${field}" is ${JSON.stringify(c[field])}, expected ${expected}`);
  };
  const isEmpty = (v: unknown) => v === undefined || v === null || (Array.isArray(v) && v.length === 0) || (typeof v === 'object' && v !== null && Object.keys(v).length === 0);

  if (c.peft_type !== 'LORA') fail('peft_type', '"LORA" (this plugin loads LoRA and DoRA adapters)');
  if (c.task_type !== undefined && c.task_type !== null && c.task_type !== 'CAUSAL_LM') fail('task_type', '"CAUSAL_LM" (an adapter for a causal language model)');
  const r = c.r;
  if (typeof r !== 'number' || !Number.isInteger(r) || r < 1) fail('r', 'a positive integer (the rank)');
  const alpha = c.lora_alpha ?? 8; // PEFT's LoraConfig default
  if (typeof alpha !== 'number' || !(alpha > 0)) fail('lora_alpha', 'a positive number');
  const dropout = c.lora_dropout ?? 0;
  if (typeof dropout !== 'number' || !(dropout >= 0 && dropout < 1)) fail('lora_dropout', 'a number in [0, 1)');
  const targets = c.target_modules;
  if (typeof targets !== 'string' && !(Array.isArray(targets) && targets.every((t) => typeof t === 'string'))) {
    fail('target_modules', 'a list of module names or a regular expression');
  }
  checkTargetModules(targets as TargetModules, `${file}: "target_modules"`);
  if (c.bias !== undefined && c.bias !== 'none') fail('bias', '"none" (adapters that train biases are not supported)');
  if (!isEmpty(c.modules_to_save)) fail('modules_to_save', 'null (adapters that carry whole trained modules are not supported)');
  if (!isEmpty(c.rank_pattern)) fail('rank_pattern', '{} (per-module ranks are not supported)');
  if (!isEmpty(c.alpha_pattern)) fail('alpha_pattern', '{} (per-module alphas are not supported)');
  if (!isEmpty(c.layers_to_transform)) fail('layers_to_transform', 'null (adapters on a subset of layers are not supported)');
  if (!isEmpty(c.exclude_modules)) fail('exclude_modules', 'null (excluded modules are not supported)');
  if (c.use_dora !== undefined && typeof c.use_dora !== 'boolean') fail('use_dora', 'true or false');
  if (c.use_rslora !== undefined && typeof c.use_rslora !== 'boolean') fail('use_rslora', 'true or false');
  for (const field of ['lora_bias', 'use_qalora'] as const) {
    if (c[field] === true) fail(field, 'false (not supported)');
  }
  if (c.layer_replication !== undefined && !isEmpty(c.layer_replication)) fail('layer_replication', 'null (not supported)');
  return {
    file,
    r: r as number,
    alpha: alpha as number,
    dropout: dropout as number,
    targetModules: targets as TargetModules,
    useDora: c.use_dora === true,
    useRslora: c.use_rslora === true,
    baseModelNameOrPath: typeof c.base_model_name_or_path === 'string' ? c.base_model_name_or_path : null,
    fanInFanOut: c.fan_in_fan_out === true,
  };
}
