/** What an evaluation is asked for, and what it gives back. */
import type { AnswerType } from '../answers/answer-types.js';

export const METRICS = ['ppl', 'nll', 'accuracy', 'mc_loglik'] as const;
export type Metric = (typeof METRICS)[number];

/** How mc_loglik writes each option after the question: its text, or its letter. */
export const CHOICE_FORMATS = ['text', 'letter'] as const;
export type ChoiceFormat = (typeof CHOICE_FORMATS)[number];

export const DEFAULT_PROMPT_STRUCTURE = '{input}';
/** LMFlow's evaluate_block_size: the stride of the perplexity window. */
export const DEFAULT_EVALUATE_BLOCK_SIZE = 512;
/** LMFlow's evaluator generates at most 100 tokens per answer. */
export const DEFAULT_MAX_NEW_TOKENS = 100;
export const DEFAULT_BATCH_SIZE = 8;

export interface EvaluateOptions {
  metric: Metric;
  /**
   * How answers are read (accuracy) or which options a question has (mc_loglik).
   * @default 'text' for accuracy; for mc_loglik the lettered options of the input (A-E)
   */
  answerType?: AnswerType;
  /**
   * Wrap each input as a user turn of this template (a preset name, `tokenizer`, `hf_auto`);
   * unset: the input is the prompt as is, tokenized as finetuning tokenizes text2text inputs.
   * For conversation datasets (nll) the template is the tokenizer's, else `empty`, when unset.
   */
  conversationTemplate?: string;
  /** The prompt around each text2text input; must contain "{input}". @default '{input}' */
  promptStructure?: string;
  /** accuracy: most tokens per answer. @default 100 */
  maxNewTokens?: number;
  /** Samples (or windows, or options) per forward pass. @default 8 */
  batchSize?: number;
  /** Evaluate the first N instances only. @default all */
  maxSamples?: number;
  /** ppl: tokens between window starts. @default 512 (LMFlow) */
  evaluateBlockSize?: number;
  /** ppl: tokens per window. @default the model's context (max_position_embeddings) */
  maxLength?: number;
  /** mc_loglik: pick by log-likelihood per byte of the option instead of the sum. @default false */
  lengthNormalize?: boolean;
  /** mc_loglik on text2text: score the option's text or its letter after the question. @default 'text' */
  choiceFormat?: ChoiceFormat;
}

/** One sample's record in results.json (fields depend on the metric). */
export type SampleRecord = Record<string, unknown> & { index: number };

export interface EvaluationResult {
  metric: Metric;
  /** The headline figures, as the summary table and metrics logs show them. */
  summary: Record<string, number>;
  /** Every sample: prediction, extracted answer, gold answer, whether it matched (or its log-likelihoods). */
  samples: SampleRecord[];
  /** accuracy: indices of samples whose generated text held no answer (counted wrong). */
  unparseable?: number[];
  /** Things the user should know (a stride capped to the window, prompts cut to fit). */
  notes: string[];
}
