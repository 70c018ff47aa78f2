/**
 * @lmflow/plugin-lora: LoRA and DoRA adapters. Train only low-rank adapters of a frozen base
 * model, save and load them in PEFT's format, and merge them into the base weights.
 */
export { LoraError } from './lora-error.js';
export { lora, LORA_PLUGIN_NAME, type LoraOptions } from './lora-plugin.js';
export { loraOptions, loraAdapterOptions, loraFromConfig } from './lora-options.js';
export { mergeLoraAdapter, type MergeResult } from './merge-adapter.js';
export { createLoraLinear, loraForward, loraScale, mergedWeight, type LoraLinear, type LoraLinearOptions, type AdapterTensors } from './lora-linear.js';
export { doraWeightNorm, doraOutput } from './dora.js';
export {
  readAdapterConfig,
  adapterConfigJson,
  peftTensorName,
  parsePeftTensorName,
  ADAPTER_CONFIG_FILE,
  ADAPTER_WEIGHTS_FILE,
  PEFT_PREFIX,
  type AdapterConfig,
  type AdapterConfigFields,
  type AdapterSettings,
  type AdapterPart,
} from './peft-format.js';
export { loadAdapterWeights, type AdapterTarget, type ModuleAdapter } from './adapter-weights.js';
export { ALL_LINEAR, DEFAULT_TARGET_MODULES, isTargeted, resolveTargetModules, type TargetModules } from './target-modules.js';
