/**
 * The generation flags, with transformers' names as LMFlow's inference arguments use them, for
 * `resolveConfig` (@lmflow/core): what `lmflow generate`, `lmflow chat` and other commands that
 * generate accept. Unset flags fall back to generation_config.json, as GenerationOptions do.
 */
import { defineOptions, type ConfigOf } from '@lmflow/core';
import type { GenerationOptions } from './generation-options.js';

export const generationFlags = defineOptions('Generation', {
  max_new_tokens: {
    type: 'integer',
    min: 1,
    description: "Most tokens to generate. Default: generation_config.json's max_new_tokens, else its max_length minus the prompt, else 256.",
  },
  do_sample: {
    type: 'boolean',
    description: 'Sample (true) or take the likeliest token (false: greedy). Default: true when --temperature, --top_k, --top_p or --min_p is given, else generation_config.json, else false.',
  },
  temperature: { type: 'number', min: 0, description: 'Divides the logits before sampling; 0 is greedy. Default: generation_config.json, else 1.' },
  top_k: { type: 'integer', min: 0, description: 'Sample among the k likeliest tokens; 0 turns it off. Default: generation_config.json, else 50 (as transformers).' },
  top_p: { type: 'number', exclusiveMin: 0, max: 1, description: 'Sample from the likeliest tokens whose probabilities reach p. Default: generation_config.json, else 1 (off).' },
  min_p: { type: 'number', min: 0, max: 1, description: "Drop tokens less likely than min_p times the likeliest one. Default: generation_config.json, else 0 (off)." },
  repetition_penalty: {
    type: 'number',
    exclusiveMin: 0,
    description: 'Penalize tokens already in the prompt or the output (transformers\' repetition_penalty; 1 is off). Default: generation_config.json, else 1.',
  },
  seed: { type: 'integer', min: 0, description: 'Seed of the sampling: the same seed gives the same output. Default: random.' },
});

/** The flags' values as GenerationOptions (unset flags stay unset). */
export function generationOptionsFromFlags(config: ConfigOf<(typeof generationFlags)['options']>): GenerationOptions {
  const options: GenerationOptions = {};
  if (config.max_new_tokens !== undefined) options.maxNewTokens = config.max_new_tokens;
  if (config.do_sample !== undefined) options.doSample = config.do_sample;
  if (config.temperature !== undefined) options.temperature = config.temperature;
  if (config.top_k !== undefined) options.topK = config.top_k;
  if (config.top_p !== undefined) options.topP = config.top_p;
  if (config.min_p !== undefined) options.minP = config.min_p;
  if (config.repetition_penalty !== undefined) options.repetitionPenalty = config.repetition_penalty;
  if (config.seed !== undefined) options.seed = config.seed;
  return options;
}
