/**
 * What a caller may ask of one generation, and how the unset options get their values: the
 * call's own options, then the model's generation_config.json, then transformers' defaults.
 * Every option is checked once here, so the decoding loop never meets a bad value.
 */
import { closestName } from '@lmflow/core';
import type { ModelConfig } from '@lmflow/core';
import type { Tokenizer } from '@lmflow/data';
import { GenerationError } from '../errors.js';
import type { GenerationConfig } from './generation-config.js';

export interface GenerationOptions {
  /**
   * Most tokens to generate. @default generation_config.json max_new_tokens, else its
   * max_length minus the prompt length, else 256
   */
  maxNewTokens?: number;
  /**
   * false: greedy (argmax). @default true when temperature, topK, topP or minP is given,
   * else generation_config.json do_sample, else false
   */
  doSample?: boolean;
  /** Divides the logits before sampling; 0 means greedy. @default generation_config.json, else 1 */
  temperature?: number;
  /** Sample among the k likeliest tokens (ties with the k-th kept); 0 turns it off. @default generation_config.json, else 50 (as transformers) */
  topK?: number;
  /** Sample from the smallest set of likeliest tokens whose probabilities reach p. @default generation_config.json, else 1 (off) */
  topP?: number;
  /** Drop tokens less likely than minP times the likeliest one. @default generation_config.json, else 0 (off) */
  minP?: number;
  /**
   * transformers' repetition penalty over prompt and generated tokens: positive logits are
   * divided by it, negative ones multiplied. @default generation_config.json, else 1 (off)
   */
  repetitionPenalty?: number;
  /** Generation ends before the first occurrence of any of these; the text excludes it. @default none */
  stop?: string[];
  /**
   * Tokens that end generation (not part of the text). @default generation_config.json
   * eos_token_id (one id or a list), else config.json's, else the tokenizer's EOS
   */
  eosTokenIds?: number[];
  /** Seed of the sampling stream: the same seed gives the same tokens. @default a random seed */
  seed?: number;
  /** Cancels between tokens; the result then has finishReason 'abort'. */
  signal?: AbortSignal;
}

/** Every option with its value, as the decoding loop and the decoder hooks see them. */
export interface ResolvedGenerationOptions {
  /** null: each prompt gets maxLength minus its own length. */
  readonly maxNewTokens: number | null;
  readonly maxLength: number | null;
  /** false when doSample is false or temperature is 0. */
  readonly doSample: boolean;
  readonly temperature: number;
  readonly topK: number;
  readonly topP: number;
  readonly minP: number;
  readonly repetitionPenalty: number;
  readonly stop: readonly string[];
  readonly eosTokenIds: readonly number[];
  readonly seed: number;
  readonly signal: AbortSignal | null;
}

export const DEFAULT_MAX_NEW_TOKENS = 256;
/** transformers' GenerationConfig default for top_k. */
export const DEFAULT_TOP_K = 50;

const OPTION_NAMES = ['maxNewTokens', 'doSample', 'temperature', 'topK', 'topP', 'minP', 'repetitionPenalty', 'stop', 'eosTokenIds', 'seed', 'signal'] as const;
const SAMPLING_OPTIONS = ['temperature', 'topK', 'topP', 'minP'] as const;

export interface ResolveContext {
  generationConfig: GenerationConfig;
  /** config.json, for eos_token_id when generation_config.json has none. */
  modelConfig: ModelConfig;
  tokenizer: Tokenizer;
  /** Ids the model can produce (its embedding rows). */
  vocabSize: number;
  /** Names the caller in errors: "generate", "chat", ... */
  caller: string;
}

export function resolveGenerationOptions(options: GenerationOptions | undefined, context: ResolveContext): ResolvedGenerationOptions {
  const given = (options ?? {}) as Record<string, unknown>;
  const { caller, generationConfig: gc } = context;
  if (typeof given !== 'object' || given === null || Array.isArray(given)) throw new GenerationError(`${caller}: options must be an object, got ${JSON.stringify(given)}`);
  for (const key of Object.keys(given)) {
    if ((OPTION_NAMES as readonly string[]).includes(key) || given[key] === undefined) continue;
    const guess = closestName(key, OPTION_NAMES);
    throw new GenerationError(`${caller}: unknown option "${key}"${guess ? `; did you mean "${guess}"?` : ''} (options: ${OPTION_NAMES.join(', ')})`);
  }
  const o = given as GenerationOptions;
  const bad = (name: string, value: unknown, expected: string) => new GenerationError(`${caller}: options.${name} is ${describe(value)}, expected ${expected}`);
  const integer = (name: keyof GenerationOptions, min: number) => {
    const v = o[name];
    if (v !== undefined && !(Number.isSafeInteger(v) && (v as number) >= min)) throw bad(name, v, `an integer >= ${min}`);
    return v as number | undefined;
  };
  const number = (name: keyof GenerationOptions, expected: string, ok: (v: number) => boolean) => {
    const v = o[name];
    if (v !== undefined && !(typeof v === 'number' && Number.isFinite(v) && ok(v))) throw bad(name, v, expected);
    return v as number | undefined;
  };

  const maxNewTokens = integer('maxNewTokens', 1);
  const temperature = number('temperature', 'a number >= 0', (v) => v >= 0);
  const topK = integer('topK', 0);
  const topP = number('topP', 'a number in (0, 1]', (v) => v > 0 && v <= 1);
  const minP = number('minP', 'a number in [0, 1]', (v) => v >= 0 && v <= 1);
  const repetitionPenalty = number('repetitionPenalty', 'a number > 0', (v) => v > 0);
  const seed = integer('seed', 0);
  if (o.doSample !== undefined && typeof o.doSample !== 'boolean') throw bad('doSample', o.doSample, 'true or false');
  if (o.stop !== undefined && !(Array.isArray(o.stop) && o.stop.every((s) => typeof s === 'string' && s.length > 0))) {
    throw bad('stop', o.stop, 'a list of non-empty strings');
  }
  if (o.eosTokenIds !== undefined && !(Array.isArray(o.eosTokenIds) && o.eosTokenIds.every((id) => Number.isSafeInteger(id) && id >= 0 && id < context.vocabSize))) {
    throw bad('eosTokenIds', o.eosTokenIds, `a list of token ids in [0, ${context.vocabSize})`);
  }
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) throw bad('signal', o.signal, 'an AbortSignal');

  // Asking for a temperature or a cut-off means asking for sampling (as OpenAI's API reads it);
  // an explicit doSample: false still wins, as in transformers.
  const samplingAsked = SAMPLING_OPTIONS.some((name) => o[name] !== undefined);
  const t = temperature ?? gc.temperature ?? 1;
  const doSample = (o.doSample ?? (samplingAsked ? true : (gc.do_sample ?? false))) && t > 0;
  return {
    maxNewTokens: maxNewTokens ?? gc.max_new_tokens ?? (gc.max_length === undefined ? DEFAULT_MAX_NEW_TOKENS : null),
    maxLength: gc.max_length ?? null,
    doSample,
    temperature: t,
    topK: topK ?? gc.top_k ?? DEFAULT_TOP_K,
    topP: topP ?? gc.top_p ?? 1,
    minP: minP ?? gc.min_p ?? 0,
    repetitionPenalty: repetitionPenalty ?? gc.repetition_penalty ?? 1,
    stop: [...(o.stop ?? [])],
    eosTokenIds: o.eosTokenIds ? [...o.eosTokenIds] : defaultEosTokenIds(context),
    seed: seed ?? Math.floor(Math.random() * 2 ** 32),
    signal: o.signal ?? null,
  };
}

function defaultEosTokenIds({ generationConfig, modelConfig, tokenizer }: ResolveContext): number[] {
  const fromFile = generationConfig.eos_token_id ?? modelConfig.eos_token_id;
  if (typeof fromFile === 'number') return [fromFile];
  if (Array.isArray(fromFile) && fromFile.every((id) => typeof id === 'number')) return [...(fromFile as number[])];
  return tokenizer.eosTokenId === null ? [] : [tokenizer.eosTokenId];
}

/** The tokens a prompt of `promptLength` may add, before the context limit is applied. */
export function maxNewTokensFor(options: ResolvedGenerationOptions, promptLength: number, caller: string): number {
  if (options.maxNewTokens !== null) return options.maxNewTokens;
  const room = options.maxLength! - promptLength;
  if (room <= 0) {
    throw new GenerationError(
      `${caller}: the prompt has ${promptLength} tokens, which reaches generation_config.json max_length ${options.maxLength} (prompt plus generated tokens); give maxNewTokens (--max_new_tokens)`,
    );
  }
  return room;
}

/** The options as the decoder hooks' context shows them (no signal). */
export function optionsForHooks(options: ResolvedGenerationOptions): Record<string, unknown> {
  const { signal: _signal, ...rest } = options;
  return rest;
}

function describe(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
