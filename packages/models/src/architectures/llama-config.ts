/**
 * config.json of the Llama family (llama, mistral, qwen2, qwen3): one decoder with switches.
 * Defaults are those of the transformers config classes; the structural sizes are required.
 *
 *            q/k/v bias        o bias           mlp bias    q/k norm  sliding window
 *   llama    attention_bias    attention_bias   mlp_bias    no        no
 *   mistral  no                no               no          no        sliding_window (all layers)
 *   qwen2    always            no               no          no        use_sliding_window, from max_window_layers
 *   qwen3    attention_bias    attention_bias   no          yes       use_sliding_window, from max_window_layers
 */
import type { ModelConfig } from '@lmflow/core';
import { configFields, type ConfigFields } from '../config/fields.js';
import { readRopeTheta } from '../config/rope.js';

export const LLAMA_FAMILY = ['llama', 'mistral', 'qwen2', 'qwen3'] as const;
export type LlamaFamilyType = (typeof LLAMA_FAMILY)[number];

export interface LlamaFamilyConfig extends ModelConfig {
  model_type: LlamaFamilyType;
  vocab_size: number;
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads: number;
  head_dim: number;
  max_position_embeddings: number;
  rms_norm_eps: number;
  rope_theta: number;
  hidden_act: 'silu';
  tie_word_embeddings: boolean;
}

/** What the decoder builds, derived from the config. */
export interface LlamaFamilySpec {
  qkvBias: boolean;
  oBias: boolean;
  mlpBias: boolean;
  qkNorm: boolean;
  /** Sliding window of each layer, or null for full attention. */
  windows: (number | null)[];
}

interface Defaults {
  maxPositions: number;
  headDim: number | null;
}

const DEFAULTS: Record<LlamaFamilyType, Defaults> = {
  llama: { maxPositions: 2048, headDim: null },
  mistral: { maxPositions: 4096 * 32, headDim: null },
  qwen2: { maxPositions: 32768, headDim: null },
  qwen3: { maxPositions: 32768, headDim: 128 },
};

export function parseLlamaFamilyConfig(raw: ModelConfig, file: string): LlamaFamilyConfig {
  const f = configFields(raw, file);
  const modelType = f.string('model_type', LLAMA_FAMILY);
  const defaults = DEFAULTS[modelType];
  const hidden = f.positiveInt('hidden_size');
  const heads = f.positiveInt('num_attention_heads');
  const kvHeads = f.positiveInt('num_key_value_heads', heads);
  if (heads % kvHeads !== 0) f.fail('num_key_value_heads', `a divisor of num_attention_heads (${heads})`);
  const headDim = readHeadDim(f, hidden, heads, defaults.headDim);
  const config: LlamaFamilyConfig = {
    ...raw,
    model_type: modelType,
    vocab_size: f.positiveInt('vocab_size'),
    hidden_size: hidden,
    intermediate_size: f.positiveInt('intermediate_size'),
    num_hidden_layers: f.positiveInt('num_hidden_layers'),
    num_attention_heads: heads,
    num_key_value_heads: kvHeads,
    head_dim: headDim,
    max_position_embeddings: f.positiveInt('max_position_embeddings', defaults.maxPositions),
    rms_norm_eps: f.positiveNumber('rms_norm_eps', 1e-6),
    rope_theta: readRopeTheta(f, 10000),
    hidden_act: f.string('hidden_act', ['silu'], 'silu'),
    tie_word_embeddings: f.boolean('tie_word_embeddings', false),
  };
  llamaFamilySpec(config, file);
  return config;
}

function readHeadDim(f: ConfigFields, hidden: number, heads: number, fallback: number | null): number {
  if (f.raw.head_dim === undefined || f.raw.head_dim === null) {
    if (fallback !== null) return fallback;
    if (hidden % heads !== 0) f.fail('head_dim', `a positive integer, since hidden_size ${hidden} is not a multiple of num_attention_heads ${heads}`);
    return hidden / heads;
  }
  const headDim = f.positiveInt('head_dim');
  if (headDim % 2 !== 0) f.fail('head_dim', 'an even number (RoPE rotates pairs of dimensions)');
  return headDim;
}

/** The switches of a parsed config (checks the per-type keys too). */
export function llamaFamilySpec(config: LlamaFamilyConfig, file: string): LlamaFamilySpec {
  const f = configFields(config, file);
  const layers = config.num_hidden_layers;
  switch (config.model_type) {
    case 'llama': {
      const bias = f.boolean('attention_bias', false);
      return { qkvBias: bias, oBias: bias, mlpBias: f.boolean('mlp_bias', false), qkNorm: false, windows: Array(layers).fill(null) };
    }
    case 'mistral': {
      const window = f.optionalPositiveInt('sliding_window', 4096);
      return { qkvBias: false, oBias: false, mlpBias: false, qkNorm: false, windows: Array(layers).fill(window) };
    }
    case 'qwen2':
      return { qkvBias: true, oBias: false, mlpBias: false, qkNorm: false, windows: qwenWindows(f, layers) };
    case 'qwen3': {
      const bias = f.boolean('attention_bias', false);
      return { qkvBias: bias, oBias: bias, mlpBias: false, qkNorm: true, windows: qwenWindows(f, layers) };
    }
  }
}

/**
 * Qwen's per-layer attention: "layer_types" when given, else sliding attention from layer
 * max_window_layers on when use_sliding_window is set (as transformers derives layer_types).
 */
function qwenWindows(f: ConfigFields, layers: number): (number | null)[] {
  const useSliding = f.boolean('use_sliding_window', false);
  const window = f.optionalPositiveInt('sliding_window', 4096);
  const layerTypes = f.raw.layer_types;
  if (layerTypes !== undefined && layerTypes !== null) {
    const valid = Array.isArray(layerTypes) && layerTypes.length === layers && layerTypes.every((t) => t === 'full_attention' || t === 'sliding_attention');
    if (!valid) f.fail('layer_types', `an array of ${layers} (num_hidden_layers) entries, each "full_attention" or "sliding_attention"`);
    return (layerTypes as string[]).map((t, i) => {
      if (t === 'full_attention') return null;
      if (window === null) f.fail('sliding_window', `a positive integer, since layer_types[${i}] is "sliding_attention"`);
      return window;
    });
  }
  const maxWindowLayers = f.nonNegativeInt('max_window_layers', 28);
  return Array.from({ length: layers }, (_, i) => (useSliding && window !== null && i >= maxWindowLayers ? window : null));
}
