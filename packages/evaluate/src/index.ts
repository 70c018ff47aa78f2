/**
 * @lmflow/evaluate: the numbers a model is judged by. Perplexity with a sliding window,
 * LMFlow's negative log-likelihood, answer accuracy (greedy generation and answer extraction
 * for multiple choice, yes/no/maybe, numbers and text), multiple choice by log-likelihood, and
 * results.json with every sample.
 */
export { evaluateModel, type EvaluateModelContext } from './evaluate-model.js';
export { planEvaluation, datasetLabel, type EvaluationPlan, type PplPlan, type NllPlan, type AccuracyPlan, type McPlan, type Origin, type ResolvedOptions } from './metrics/plan-evaluation.js';
export { runEvaluation, type RunContext } from './metrics/run-evaluation.js';
export {
  METRICS,
  CHOICE_FORMATS,
  DEFAULT_PROMPT_STRUCTURE,
  DEFAULT_EVALUATE_BLOCK_SIZE,
  DEFAULT_MAX_NEW_TOKENS,
  DEFAULT_BATCH_SIZE,
  type Metric,
  type ChoiceFormat,
  type EvaluateOptions,
  type EvaluationResult,
  type SampleRecord,
} from './metrics/metric-types.js';
export { parseLetteredChoices, type Choice } from './metrics/lettered-choices.js';
export { evaluateOptions, evaluateOptionsFromFlags, type EvaluateFlags } from './evaluate-options.js';

export { ANSWER_TYPES, CHOICE_LETTERS, isMultipleChoice, describeAnswerType, type AnswerType } from './answers/answer-types.js';
export { extractAnswer, answersMatch, normalizeText } from './answers/extract-answer.js';
export { applyPromptStructure, checkPromptStructure } from './prompts/prompt-structure.js';

export { scoreRows, suffixRow, type ScoreRow, type RowScore, type ScoreOptions } from './loglik/score-rows.js';
export { slidingWindows, slidingWindowPerplexity, type SlidingWindow, type PerplexityResult, type PerplexityOptions } from './loglik/sliding-window.js';
export { fitRow, fitPrompt } from './loglik/fit-context.js';

export { writeResults, formatSummary, RESULTS_FILE, type ResultsHeader } from './results/results-file.js';
export { createProgressLine, type ProgressLine } from './progress/progress-line.js';
export { EvaluationError } from './errors.js';
