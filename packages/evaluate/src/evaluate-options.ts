/**
 * The flags of `lmflow evaluate`, with LMFlow's evaluator names where it has them
 * (metric, answer_type, prompt_structure, evaluate_block_size, max_eval_samples as an alias).
 * The model flags (model_name_or_path, torch_dtype, device) come from the command.
 */
import { defineOptions, type ConfigOf } from '@lmflow/core';
import { CONVERSATION_TEMPLATE_NAMES } from '@lmflow/data';
import { ANSWER_TYPES } from './answers/answer-types.js';
import {
  CHOICE_FORMATS,
  DEFAULT_BATCH_SIZE,
  DEFAULT_EVALUATE_BLOCK_SIZE,
  DEFAULT_MAX_NEW_TOKENS,
  DEFAULT_PROMPT_STRUCTURE,
  METRICS,
  type EvaluateOptions,
} from './metrics/metric-types.js';

export const evaluateOptions = defineOptions('Evaluation', {
  dataset_path: {
    type: 'path',
    mustExist: 'any',
    required: true,
    description: 'An LMFlow dataset (a folder of *.json files, or one file): text_only for ppl; text2text, text_only or conversation for nll; text2text for accuracy; text2text with lettered options, or text_to_scored_textlist, for mc_loglik.',
  },
  metric: {
    type: 'enum',
    values: METRICS,
    default: 'accuracy',
    description:
      'ppl: perplexity of the texts with a sliding window. nll: mean over samples of the summed negative log-likelihood of the output tokens (LMFlow). accuracy: greedy answers compared with the gold outputs. mc_loglik: the option with the highest log-likelihood given the question.',
  },
  answer_type: {
    type: 'enum',
    values: ANSWER_TYPES,
    description:
      'How answers are read: medmcqa, mmlu (letters A-D), medqa, multiple_choice (A-E), pubmedqa (yes/no/maybe), gsm8k (the number after ####, else the last one), text (normalised exact match). Default: text for accuracy; lettered options A-E for mc_loglik.',
  },
  conversation_template: {
    type: 'enum',
    values: CONVERSATION_TEMPLATE_NAMES as readonly string[],
    description: "Wrap each input as a user turn of this template (an LMFlow preset, `tokenizer`, `hf_auto`). Default: the input as is, tokenized as finetuning tokenizes text2text (conversation data: the model's chat_template, else `empty`).",
  },
  prompt_structure: {
    type: 'string',
    default: DEFAULT_PROMPT_STRUCTURE,
    description: 'The prompt around each text2text input; "{input}" is replaced by the input, e.g. "Question: {input}\\nAnswer:".',
  },
  max_new_tokens: { type: 'integer', min: 1, default: DEFAULT_MAX_NEW_TOKENS, description: 'accuracy: most tokens generated per answer.' },
  batch_size: { type: 'integer', min: 1, default: DEFAULT_BATCH_SIZE, description: 'Samples (ppl: windows; mc_loglik: options) per forward pass.' },
  max_samples: { type: 'integer', min: 1, aliases: ['max_eval_samples'], description: 'Evaluate only the first N instances. Default: all.' },
  evaluate_block_size: {
    type: 'integer',
    min: 1,
    default: DEFAULT_EVALUATE_BLOCK_SIZE,
    aliases: ['stride'],
    description: "ppl: tokens between the starts of the sliding windows (LMFlow's evaluate_block_size); each window is the model's context long.",
  },
  length_normalize: {
    type: 'boolean',
    default: false,
    description: "mc_loglik: choose by log-likelihood per byte of the option (lm-evaluation-harness's acc_norm) instead of the sum. Both accuracies are in results.json.",
  },
  choice_format: {
    type: 'enum',
    values: CHOICE_FORMATS,
    default: 'text',
    description: "mc_loglik: score each option's text after the question, or its letter (as MMLU harnesses do).",
  },
  output_dir: { type: 'path', default: 'output_dir', description: 'Where results.json goes (created if needed; an older results.json is replaced).' },
});

export type EvaluateFlags = ConfigOf<(typeof evaluateOptions)['options']>;

/** The flags as EvaluateOptions. */
export function evaluateOptionsFromFlags(flags: EvaluateFlags): EvaluateOptions {
  return {
    metric: flags.metric,
    ...(flags.answer_type !== undefined && { answerType: flags.answer_type }),
    ...(flags.conversation_template !== undefined && { conversationTemplate: flags.conversation_template }),
    promptStructure: flags.prompt_structure,
    maxNewTokens: flags.max_new_tokens,
    batchSize: flags.batch_size,
    ...(flags.max_samples !== undefined && { maxSamples: flags.max_samples }),
    evaluateBlockSize: flags.evaluate_block_size,
    lengthNormalize: flags.length_normalize,
    choiceFormat: flags.choice_format,
  };
}
