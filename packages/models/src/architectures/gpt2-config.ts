/**
 * config.json of GPT-2 (model_type "gpt2"), with transformers' defaults for optional keys; the
 * structural sizes are required.
 */
import type { ModelConfig } from '@lmflow/core';
import { configFields } from '../config/fields.js';

/** activation_function values and whether they use the tanh approximation of gelu. */
export const GPT2_ACTIVATIONS = ['gelu_new', 'gelu_pytorch_tanh', 'gelu_fast', 'gelu', 'relu', 'silu', 'swish'] as const;
export type Gpt2Activation = (typeof GPT2_ACTIVATIONS)[number];

export interface Gpt2Config extends ModelConfig {
  model_type: 'gpt2';
  vocab_size: number;
  n_positions: number;
  n_embd: number;
  n_layer: number;
  n_head: number;
  /** Width of the MLP; null means 4 * n_embd. */
  n_inner: number | null;
  activation_function: Gpt2Activation;
  layer_norm_epsilon: number;
  scale_attn_weights: boolean;
  scale_attn_by_inverse_layer_idx: boolean;
  tie_word_embeddings: boolean;
}

export function parseGpt2Config(raw: ModelConfig, file: string): Gpt2Config {
  const f = configFields(raw, file);
  f.string('model_type', ['gpt2']);
  const embd = f.positiveInt('n_embd');
  const heads = f.positiveInt('n_head');
  if (embd % heads !== 0) f.fail('n_head', `a divisor of n_embd (${embd})`);
  if (f.boolean('add_cross_attention', false)) f.fail('add_cross_attention', 'false', 'GPT-2 with cross-attention is an encoder-decoder part, not a causal LM');
  return {
    ...raw,
    model_type: 'gpt2',
    vocab_size: f.positiveInt('vocab_size'),
    n_positions: f.positiveInt('n_positions'),
    n_embd: embd,
    n_layer: f.positiveInt('n_layer'),
    n_head: heads,
    n_inner: f.optionalPositiveInt('n_inner', null),
    activation_function: f.string('activation_function', GPT2_ACTIVATIONS, 'gelu_new'),
    layer_norm_epsilon: f.positiveNumber('layer_norm_epsilon', 1e-5),
    scale_attn_weights: f.boolean('scale_attn_weights', true),
    scale_attn_by_inverse_layer_idx: f.boolean('scale_attn_by_inverse_layer_idx', false),
    // reorder_and_upcast_attn only changes the precision of fp16 attention, not the result.
    tie_word_embeddings: f.boolean('tie_word_embeddings', true),
  };
}
