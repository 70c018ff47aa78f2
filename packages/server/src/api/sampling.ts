/**
 * The sampling parameters both endpoints share, in OpenAI's names, turned into the engine's
 * generation options. OpenAI's defaults hold (temperature 1, top_p 1); temperature 0 decodes
 * greedily. vLLM's extensions top_k, min_p and repetition_penalty are accepted too, since
 * clients written for open models send them.
 *
 * presence_penalty and frequency_penalty are refused unless 0: they subtract from logits by
 * count, which is not what repetition_penalty (a CTRL-style divisor) does, and passing one off
 * as the other would silently change results.
 */
import { invalidRequest } from '../http/api-error.js';
import { optionalBoolean, optionalNumber, show, stopSequences, type Body } from './fields.js';

export interface SamplingParams {
  /** Tokens to generate at most; undefined: up to the end of the context (chat) . */
  maxTokens: number | undefined;
  /** Which field set maxTokens, for errors about it. */
  maxTokensParam: string;
  temperature: number;
  topP: number;
  topK: number;
  minP: number;
  repetitionPenalty: number;
  stop: string[];
  seed: number | undefined;
}

/** Fields every endpoint reads through samplingParams. */
export const SAMPLING_FIELDS = [
  'max_tokens',
  'temperature',
  'top_p',
  'top_k',
  'min_p',
  'repetition_penalty',
  'presence_penalty',
  'frequency_penalty',
  'stop',
  'seed',
  'n',
  'logprobs',
  'top_logprobs',
  'logit_bias',
] as const;

export function samplingParams(body: Body, maxTokensFields: readonly string[]): SamplingParams {
  let maxTokens: number | undefined;
  let maxTokensParam = maxTokensFields[0]!;
  for (const field of maxTokensFields) {
    const value = optionalNumber(body, field, { integer: true, min: 1 });
    if (value === undefined) continue;
    if (maxTokens !== undefined && value !== maxTokens) {
      throw invalidRequest(`${maxTokensParam} is ${maxTokens} and ${field} is ${value}; give one of them`, field, 'invalid_value');
    }
    maxTokens = value;
    maxTokensParam = field;
  }

  const n = optionalNumber(body, 'n', { integer: true, min: 1 });
  if (n !== undefined && n !== 1) {
    throw invalidRequest(`n is ${n}, but this server returns one choice per request; send ${n} requests (they run concurrently)`, 'n', 'unsupported_value');
  }
  for (const penalty of ['presence_penalty', 'frequency_penalty']) {
    const value = optionalNumber(body, penalty, { min: -2, max: 2 });
    if (value !== undefined && value !== 0) {
      throw invalidRequest(`${penalty} is ${value}, but only 0 is supported; use repetition_penalty (1 = off, 1.1 = a mild penalty) instead`, penalty, 'unsupported_value');
    }
  }
  refuseLogprobs(body);
  const logitBias = body.logit_bias;
  if (logitBias !== undefined && logitBias !== null && (typeof logitBias !== 'object' || Array.isArray(logitBias) || Object.keys(logitBias).length > 0)) {
    throw invalidRequest(`logit_bias is ${show(logitBias)}, but logit biases are not supported; leave it out`, 'logit_bias', 'unsupported_value');
  }

  const topK = optionalNumber(body, 'top_k', { integer: true, min: -1 }) ?? 0;
  return {
    maxTokens,
    maxTokensParam,
    temperature: optionalNumber(body, 'temperature', { min: 0, max: 2 }) ?? 1,
    topP: optionalNumber(body, 'top_p', { min: 0, max: 1, minExclusive: true }) ?? 1,
    // vLLM spells "no top-k" as -1; the engine as 0.
    topK: topK === -1 ? 0 : topK,
    minP: optionalNumber(body, 'min_p', { min: 0, max: 1 }) ?? 0,
    repetitionPenalty: optionalNumber(body, 'repetition_penalty', { min: 0, minExclusive: true }) ?? 1,
    stop: stopSequences(body),
    seed: optionalNumber(body, 'seed', { integer: true, min: 0, max: Number.MAX_SAFE_INTEGER }),
  };
}

/** Log-probabilities are not computed; asking for them is an error rather than an empty answer. */
function refuseLogprobs(body: Body): void {
  const logprobs = body.logprobs;
  // Chat takes a boolean, completions a count (0..5).
  const asked = typeof logprobs === 'number' ? true : optionalBoolean(body, 'logprobs');
  if (asked) throw invalidRequest(`logprobs is ${show(logprobs)}, but log-probabilities are not returned by this server; leave it out`, 'logprobs', 'unsupported_value');
  const top = optionalNumber(body, 'top_logprobs', { integer: true, min: 0, max: 20 });
  if (top !== undefined && top > 0) {
    throw invalidRequest(`top_logprobs is ${top}, but log-probabilities are not returned by this server; leave it out`, 'top_logprobs', 'unsupported_value');
  }
}
