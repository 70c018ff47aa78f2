/**
 * Everything an evaluation can check before the model loads: the dataset type against the
 * metric, the flags against the metric, the gold answers against --answer_type, the options
 * of multiple-choice questions, and tokenization. A mistake fails here, naming the file, the
 * instance and the field, instead of after minutes of model work.
 */
import type { ConversationInstance, Dataset, DatasetType, Text2TextInstance, TextOnlyInstance, TextToScoredTextlistInstance } from '@lmflow/core';
import { resolveConversationTemplate, tokenizeConversation, tokenizeText2Text, tokenizeTextOnly, type ConversationTemplate, type Tokenizer } from '@lmflow/data';
import { buildChatPrompt } from '@lmflow/inference';
import { ANSWER_TYPES, CHOICE_LETTERS, describeAnswerType, type AnswerType } from '../answers/answer-types.js';
import { extractAnswer } from '../answers/extract-answer.js';
import { EvaluationError, quote } from '../errors.js';
import type { ScoreRow } from '../loglik/score-rows.js';
import { applyPromptStructure, checkPromptStructure } from '../prompts/prompt-structure.js';
import { parseLetteredChoices, type Choice } from './lettered-choices.js';
import {
  CHOICE_FORMATS,
  DEFAULT_BATCH_SIZE,
  DEFAULT_EVALUATE_BLOCK_SIZE,
  DEFAULT_MAX_NEW_TOKENS,
  DEFAULT_PROMPT_STRUCTURE,
  METRICS,
  type ChoiceFormat,
  type EvaluateOptions,
  type Metric,
} from './metric-types.js';

/** Where an instance came from, as results.json and errors name it. */
export interface Origin {
  index: number;
  file: string;
  /** Index within its file. */
  fileIndex: number;
}

export interface ResolvedOptions {
  metric: Metric;
  answerType: AnswerType | null;
  conversationTemplate: string | null;
  promptStructure: string;
  maxNewTokens: number;
  batchSize: number;
  evaluateBlockSize: number;
  maxLength: number | null;
  lengthNormalize: boolean;
  choiceFormat: ChoiceFormat;
}

export interface PplPlan {
  metric: 'ppl';
  options: ResolvedOptions;
  /** The texts joined by a blank line (as LMFlow does), tokenized with special tokens. */
  ids: number[];
  texts: number;
}

export interface NllPlan {
  metric: 'nll';
  options: ResolvedOptions;
  items: { origin: Origin; row: ScoreRow }[];
}

export interface AccuracyPlan {
  metric: 'accuracy';
  options: ResolvedOptions & { answerType: AnswerType };
  items: { origin: Origin; prompt: string; promptIds: number[]; gold: string; goldAnswer: string }[];
  /** What ends an answer besides EOS: the template's end of turn. */
  endOfTurn: { tokenIds: number[]; stop: string[] };
}

export interface McPlan {
  metric: 'mc_loglik';
  options: ResolvedOptions;
  items: { origin: Origin; prompt: string; contextIds: number[]; choices: (Choice & { ids: number[] })[]; gold: number }[];
}

export type EvaluationPlan = PplPlan | NllPlan | AccuracyPlan | McPlan;

const READS: Record<Metric, readonly DatasetType[]> = {
  ppl: ['text_only'],
  nll: ['text2text', 'text_only', 'conversation'],
  accuracy: ['text2text'],
  mc_loglik: ['text2text', 'text_to_scored_textlist'],
};

const HINTS: Partial<Record<Metric, string>> = {
  ppl: ' (for the likelihood of outputs given inputs use --metric nll)',
  accuracy: ' (accuracy compares generated answers with gold outputs: {"input", "output"} instances)',
  mc_loglik: ' (questions with lettered options in "input" and the answer in "output", or candidates with scores)',
};

export function planEvaluation(dataset: Dataset, tokenizer: Tokenizer, given: EvaluateOptions): EvaluationPlan {
  const options = resolveOptions(given, dataset);
  const where = datasetLabel(dataset);
  if (!READS[options.metric].includes(dataset.type)) {
    throw new EvaluationError(`--metric ${options.metric} reads ${READS[options.metric].join(' or ')} datasets; ${where} is ${dataset.type}${HINTS[options.metric] ?? ''}`);
  }
  const count = Math.min(dataset.instances.length, given.maxSamples ?? Infinity);
  if (count === 0) throw new EvaluationError(`${where} has no instances to evaluate`);
  const origins: Origin[] = dataset.origins.slice(0, count).map((o, index) => ({ index, file: o.file, fileIndex: o.index }));
  const instances = dataset.instances.slice(0, count);
  const encodePrompt = promptEncoder(tokenizer, options.conversationTemplate);

  switch (options.metric) {
    case 'ppl': {
      const texts = (instances as TextOnlyInstance[]).map((i) => i.text);
      return { metric: 'ppl', options, ids: tokenizer.encode(texts.join('\n\n')), texts: texts.length };
    }
    case 'nll':
      return { metric: 'nll', options, items: origins.map((origin, k) => ({ origin, row: nllRow(dataset.type, instances[k]!, origin, tokenizer, options) })) };
    case 'accuracy': {
      const answerType = options.answerType ?? 'text';
      const items = (instances as Text2TextInstance[]).map((instance, k) => {
        const origin = origins[k]!;
        const goldAnswer = goldOf(instance.output, answerType, origin);
        const prompt = applyPromptStructure(options.promptStructure, instance.input);
        return { origin, prompt, promptIds: encodePrompt.ids(prompt, origin), gold: instance.output, goldAnswer };
      });
      return { metric: 'accuracy', options: { ...options, answerType }, items, endOfTurn: encodePrompt.endOfTurn };
    }
    case 'mc_loglik': {
      const items = instances.map((instance, k) => {
        const origin = origins[k]!;
        const { input, choices, gold } =
          dataset.type === 'text_to_scored_textlist' ? scoredChoices(instance as TextToScoredTextlistInstance, origin, options) : letteredChoices(instance as Text2TextInstance, origin, options);
        const prompt = applyPromptStructure(options.promptStructure, input);
        const continuation = (c: Choice) => (options.choiceFormat === 'letter' ? c.label : c.text);
        return {
          origin,
          prompt,
          contextIds: encodePrompt.ids(prompt, origin),
          choices: choices.map((c) => ({ ...c, ids: continuationIds(tokenizer, continuation(c), origin) })),
          gold,
        };
      });
      return { metric: 'mc_loglik', options, items };
    }
  }
}

function resolveOptions(given: EvaluateOptions, dataset: Dataset): ResolvedOptions {
  if (!METRICS.includes(given.metric)) throw new EvaluationError(`--metric is ${quote(given.metric)}, expected one of ${METRICS.join(', ')}`);
  const metric = given.metric;
  if (given.answerType !== undefined && !ANSWER_TYPES.includes(given.answerType)) {
    throw new EvaluationError(`--answer_type is ${quote(given.answerType)}, expected one of ${ANSWER_TYPES.join(', ')}`);
  }
  if (given.answerType !== undefined && (metric === 'ppl' || metric === 'nll')) {
    throw new EvaluationError(`--answer_type ${given.answerType} has no use with --metric ${metric}; it is for --metric accuracy and mc_loglik`);
  }
  const promptStructure = given.promptStructure ?? DEFAULT_PROMPT_STRUCTURE;
  checkPromptStructure(promptStructure);
  if (promptStructure !== DEFAULT_PROMPT_STRUCTURE && dataset.type !== 'text2text' && dataset.type !== 'text_to_scored_textlist') {
    throw new EvaluationError(`--prompt_structure applies to the "input" of text2text instances; ${datasetLabel(dataset)} is ${dataset.type}`);
  }
  const choiceFormat = given.choiceFormat ?? 'text';
  if (!CHOICE_FORMATS.includes(choiceFormat)) throw new EvaluationError(`--choice_format is ${quote(choiceFormat)}, expected text or letter`);
  if (given.conversationTemplate !== undefined && metric === 'ppl') {
    throw new EvaluationError('--conversation_template has no use with --metric ppl, which reads raw text');
  }
  const positive = (name: string, value: number | undefined, fallback: number | null) => {
    if (value === undefined) return fallback;
    if (!(Number.isSafeInteger(value) && value >= 1)) throw new EvaluationError(`--${name} is ${quote(value)}, expected an integer >= 1`);
    return value;
  };
  if (given.maxSamples !== undefined) positive('max_samples', given.maxSamples, null);
  return {
    metric,
    answerType: given.answerType ?? null,
    conversationTemplate: given.conversationTemplate ?? null,
    promptStructure,
    maxNewTokens: positive('max_new_tokens', given.maxNewTokens, DEFAULT_MAX_NEW_TOKENS)!,
    batchSize: positive('batch_size', given.batchSize, DEFAULT_BATCH_SIZE)!,
    evaluateBlockSize: positive('evaluate_block_size', given.evaluateBlockSize, DEFAULT_EVALUATE_BLOCK_SIZE)!,
    maxLength: positive('max_length', given.maxLength, null),
    lengthNormalize: given.lengthNormalize ?? false,
    choiceFormat,
  };
}

export function datasetLabel(dataset: Dataset): string {
  const files = [...new Set(dataset.origins.map((o) => o.file))];
  if (files.length === 0) return 'the dataset';
  return files.length === 1 ? `dataset ${files[0]}` : `dataset of ${files.length} files (${files[0]}, ...)`;
}

const at = (origin: Origin) => `dataset ${origin.file}: instance ${origin.fileIndex}`;

/**
 * Prompt ids: without a template, the text tokenized as finetuning tokenizes a text2text
 * input (no special tokens; BOS alone for an empty prompt), so a model is evaluated on
 * exactly the token sequences it was trained on; with one, the user turn and the start of
 * the assistant's answer, as chat does.
 */
function promptEncoder(tokenizer: Tokenizer, templateName: string | null) {
  if (templateName === null) {
    return {
      endOfTurn: { tokenIds: [] as number[], stop: [] as string[] },
      ids(prompt: string, origin: Origin): number[] {
        const ids = tokenizer.encode(prompt, { addSpecialTokens: false });
        if (ids.length > 0) return ids;
        if (tokenizer.bosTokenId === null) throw new EvaluationError(`${at(origin)}: the prompt is empty and the tokenizer (${tokenizer.path}) has no BOS token to start from`);
        return [tokenizer.bosTokenId];
      },
    };
  }
  // Resolved once, so a bad name fails before the first instance.
  const endOfTurn = buildChatPrompt(tokenizer, [{ role: 'user', content: 'x' }], templateName, 'evaluate').endOfTurn;
  return { endOfTurn, ids: (prompt: string) => buildChatPrompt(tokenizer, [{ role: 'user', content: prompt }], templateName, 'evaluate').ids };
}

function continuationIds(tokenizer: Tokenizer, text: string, origin: Origin): number[] {
  const ids = tokenizer.encode(text, { addSpecialTokens: false });
  if (ids.length === 0) throw new EvaluationError(`${at(origin)}: an option is empty; every option needs text to score`);
  return ids;
}

function goldOf(output: string, answerType: AnswerType, origin: Origin): string {
  const gold = extractAnswer(output, answerType);
  if (gold === null) {
    throw new EvaluationError(`${at(origin)}: "output" is ${quote(output)}, which holds no gold answer for --answer_type ${answerType}: expected ${describeAnswerType(answerType)}`);
  }
  return gold;
}

function nllRow(type: DatasetType, instance: unknown, origin: Origin, tokenizer: Tokenizer, options: ResolvedOptions): ScoreRow {
  const template = (): ConversationTemplate => {
    const resolved = resolveConversationTemplate(options.conversationTemplate ?? undefined, tokenizer);
    if (resolved.kind === 'jinja' && !resolved.hasGenerationMarks) {
      throw new EvaluationError(
        `--metric nll scores the assistant's tokens, but the tokenizer's chat template (${tokenizer.path}) has no {% generation %} marks to tell which they are; choose a preset with --conversation_template`,
      );
    }
    return resolved;
  };
  let sample;
  if (type === 'text_only') {
    sample = tokenizeTextOnly(tokenizer, (instance as TextOnlyInstance).text);
  } else if (type === 'text2text') {
    const { input, output } = instance as Text2TextInstance;
    const prompt = applyPromptStructure(options.promptStructure, input);
    sample =
      options.conversationTemplate === null
        ? tokenizeText2Text(tokenizer, prompt, output, { addEos: tokenizer.eosTokenId !== null })
        : tokenizeConversation(tokenizer, template(), { messages: [{ role: 'user', content: prompt }, { role: 'assistant', content: output }] }).sample;
  } else {
    sample = tokenizeConversation(tokenizer, template(), instance as ConversationInstance).sample;
  }
  if (!sample || sample.labels.slice(1).every((l) => l === -100)) {
    throw new EvaluationError(`${at(origin)}: has no tokens to score (${type === 'conversation' ? 'no assistant turn' : type === 'text2text' ? 'an empty "output"' : 'the text is at most one token'})`);
  }
  return { ids: sample.inputIds, labels: sample.labels };
}

/** Options and gold of a text2text question: lettered lines of the input, or yes/no/maybe. */
function letteredChoices(instance: Text2TextInstance, origin: Origin, options: ResolvedOptions): { input: string; choices: Choice[]; gold: number } {
  const answerType = options.answerType ?? 'multiple_choice';
  if (answerType === 'pubmedqa') {
    if (options.choiceFormat === 'letter') throw new EvaluationError('--choice_format letter needs lettered options; pubmedqa answers are the words yes, no and maybe');
    const choices = ['yes', 'no', 'maybe'].map((word) => ({ label: word, text: word }));
    return { input: instance.input, choices, gold: choices.findIndex((c) => c.label === goldOf(instance.output, answerType, origin)) };
  }
  const letters = CHOICE_LETTERS[answerType];
  if (!letters) {
    throw new EvaluationError(`--answer_type ${answerType} has no options to choose from; --metric mc_loglik takes a multiple-choice type (medmcqa, medqa, mmlu, multiple_choice) or pubmedqa`);
  }
  const choices = parseLetteredChoices(instance.input);
  if (!choices) {
    throw new EvaluationError(`${at(origin)}: "input" has no lettered options; --metric mc_loglik reads them as lines "A. ...", "B. ..." (or "(A) ...", "A) ..."), found none in ${quote(instance.input, 120)}`);
  }
  if (choices.length > letters.length) {
    throw new EvaluationError(`${at(origin)}: "input" has options ${choices.map((c) => c.label).join(', ')}, more than --answer_type ${answerType} allows (${letters.split('').join(', ')})`);
  }
  const gold = goldOf(instance.output, answerType, origin);
  const index = choices.findIndex((c) => c.label === gold);
  if (index < 0) throw new EvaluationError(`${at(origin)}: "output" answers ${gold}, but "input" has only options ${choices.map((c) => c.label).join(', ')}`);
  return { input: instance.input, choices, gold: index };
}

/** Candidates of a text_to_scored_textlist instance; the gold is the one with the highest score. */
function scoredChoices(instance: TextToScoredTextlistInstance, origin: Origin, options: ResolvedOptions): { input: string; choices: Choice[]; gold: number } {
  if (options.answerType !== null) throw new EvaluationError(`--answer_type has no use with text_to_scored_textlist data: its candidates are the options and the highest score marks the right one`);
  if (options.choiceFormat === 'letter') throw new EvaluationError('--choice_format letter needs lettered options in a text2text input; text_to_scored_textlist candidates are scored by their text');
  if (instance.output.length < 2) throw new EvaluationError(`${at(origin)}: "output" has ${instance.output.length} candidate; multiple choice needs at least 2`);
  const best = Math.max(...instance.output.map((c) => c.score));
  const top = instance.output.flatMap((c, i) => (c.score === best ? [i] : []));
  if (top.length > 1) throw new EvaluationError(`${at(origin)}: candidates ${top.join(' and ')} share the highest score ${best}; the right option must have the highest score alone`);
  return { input: instance.input, choices: instance.output.map((c, i) => ({ label: String(i), text: c.text })), gold: top[0]! };
}
