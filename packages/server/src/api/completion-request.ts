/**
 * POST /v1/completions bodies, checked field by field. One prompt per request (a string, or a
 * list holding one string); token-id prompts, echo, suffix and best_of are refused by name
 * rather than ignored.
 */
import { invalidRequest } from '../http/api-error.js';
import { optionalBoolean, optionalNumber, rejectUnknownFields, requiredString, show, streamOptions, type Body } from './fields.js';
import { SAMPLING_FIELDS, samplingParams, type SamplingParams } from './sampling.js';

export interface CompletionRequest {
  model: string;
  prompt: string;
  stream: boolean;
  includeUsage: boolean;
  sampling: SamplingParams;
}

/** OpenAI's default for /v1/completions when max_tokens is left out. */
export const DEFAULT_COMPLETION_MAX_TOKENS = 16;

const FIELDS = ['model', 'prompt', 'stream', 'stream_options', 'user', 'echo', 'suffix', 'best_of', ...SAMPLING_FIELDS];

export function parseCompletionRequest(body: Body): CompletionRequest {
  rejectUnknownFields(body, FIELDS, '/v1/completions');
  const model = requiredString(body, 'model');
  const stream = optionalBoolean(body, 'stream') ?? false;
  if (optionalBoolean(body, 'echo')) throw invalidRequest('echo is true, but echoing the prompt is not supported; leave it out', 'echo', 'unsupported_value');
  const suffix = body.suffix;
  if (suffix !== undefined && suffix !== null && suffix !== '') {
    throw invalidRequest(`suffix is ${show(suffix)}, but insertion (text after the completion) is not supported; leave it out`, 'suffix', 'unsupported_value');
  }
  const bestOf = optionalNumber(body, 'best_of', { integer: true, min: 1 });
  if (bestOf !== undefined && bestOf !== 1) throw invalidRequest(`best_of is ${bestOf}, but only 1 is supported`, 'best_of', 'unsupported_value');
  optionalUser(body);
  const sampling = samplingParams(body, ['max_tokens']);
  return {
    model,
    prompt: promptOf(body.prompt),
    stream,
    includeUsage: streamOptions(body, stream).includeUsage,
    sampling: { ...sampling, maxTokens: sampling.maxTokens ?? DEFAULT_COMPLETION_MAX_TOKENS },
  };
}

function promptOf(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === undefined || value === null) throw invalidRequest('prompt is required (a string; "" starts from the beginning-of-text token)', 'prompt', 'missing_required_parameter');
  if (Array.isArray(value)) {
    if (value.length === 1 && typeof value[0] === 'string') return value[0];
    if (value.length > 0 && value.every((v) => typeof v === 'number')) {
      throw invalidRequest('prompt is a list of token ids, which is not supported; send the text', 'prompt', 'unsupported_value');
    }
    if (value.length > 1) {
      throw invalidRequest(`prompt is a list of ${value.length} prompts; send one prompt per request (requests run concurrently)`, 'prompt', 'unsupported_value');
    }
  }
  throw invalidRequest(`prompt is ${show(value)}, expected a string`, 'prompt', 'invalid_type');
}

/** `user` is an end-user id OpenAI keeps for abuse monitoring; it has no effect on generation. */
export function optionalUser(body: Body): void {
  const user = body.user;
  if (user !== undefined && user !== null && typeof user !== 'string') throw invalidRequest(`user is ${show(user)}, expected a string`, 'user', 'invalid_type');
}
