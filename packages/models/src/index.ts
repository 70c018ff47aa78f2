/**
 * @lmflow/models: Hugging Face models in LMFlow.ts. safetensors and config.json I/O, the
 * Llama family (llama, mistral, qwen2, qwen3) and GPT-2, a KV cache for decoding, and the
 * Hugging Face cache for models given by hub id.
 */
export { loadModel, type LoadModelOptions, type ModelDType } from './model/load-model.js';
export { saveModel, type SaveModelOptions, type AdapterFiles } from './model/save-model.js';
export type { CausalLM, ForwardOptions } from './model/causal-lm.js';
export { createKvCache, type KvCache, type KvCacheOptions, type KvLayout } from './model/kv-cache.js';

export { supportedModelTypes, parseModelConfig } from './architectures/registry.js';
export { LLAMA_FAMILY, type LlamaFamilyConfig, type LlamaFamilyType } from './architectures/llama-config.js';
export { GPT2_ACTIVATIONS, type Gpt2Config, type Gpt2Activation } from './architectures/gpt2-config.js';
export { ConfigError } from './config/fields.js';

export { loadSafetensors, readSafetensorsHeader, type LoadSafetensorsOptions, type SafetensorsContents } from './safetensors/read.js';
export { saveSafetensors, type SaveSafetensorsOptions, type TensorMap } from './safetensors/write.js';
export { SafetensorsFormatError, MAX_HEADER_BYTES, type SafetensorsHeader, type SafetensorsEntry } from './safetensors/header.js';
export { SAFETENSORS_DTYPE_SIZES } from './safetensors/dtypes.js';
export {
  loadCheckpoint,
  saveCheckpoint,
  readShardIndex,
  parseShardSize,
  SAFETENSORS_FILE,
  SAFETENSORS_INDEX_FILE,
  DEFAULT_MAX_SHARD_SIZE,
  type SaveCheckpointOptions,
  type ShardIndex,
  type LoadedCheckpoint,
} from './safetensors/checkpoint.js';

export { resolveModelPath, type HubOptions } from './hub/resolve-model.js';
export { hubCacheDir, isHubOffline, cachedSnapshot } from './hub/cache-paths.js';
export type { ProgressSink } from './hub/progress.js';

// Tokenizers (tokenizer.json + tokenizer_config.json through @huggingface/tokenizers, special
// tokens, chat template) are read by @lmflow/data, which tokenizes datasets with them; they are
// re-exported here so that loading "a model" gives everything a Hugging Face folder holds.
export { loadTokenizer, type Tokenizer } from '@lmflow/data';
