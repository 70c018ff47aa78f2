/**
 * Reading one field of a request body with its type and range checked. Each failure is a 400
 * that names the field (`param`), the value received and what was expected, the way OpenAI's
 * API words it.
 */
import { invalidRequest } from '../http/api-error.js';

export type Body = Readonly<Record<string, unknown>>;

/** A value as it reads in a message: strings quoted, long values cut. */
export function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function wrongType(param: string, value: unknown, expected: string) {
  return invalidRequest(`${param} is ${show(value)}, expected ${expected}`, param, 'invalid_type');
}

/** Rejects fields the endpoint does not know: a misspelled parameter must not be ignored. */
export function rejectUnknownFields(body: Body, known: readonly string[], endpoint: string): void {
  for (const key of Object.keys(body)) {
    if (!known.includes(key)) {
      throw invalidRequest(`unrecognized request argument "${key}" for ${endpoint}; accepted: ${known.join(', ')}`, key, 'unknown_parameter');
    }
  }
}

export function optionalString(body: Body, param: string): string | undefined {
  const value = body[param];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw wrongType(param, value, 'a string');
  return value;
}

export function requiredString(body: Body, param: string): string {
  const value = optionalString(body, param);
  if (value === undefined) throw invalidRequest(`${param} is required`, param, 'missing_required_parameter');
  return value;
}

export function optionalBoolean(body: Body, param: string): boolean | undefined {
  const value = body[param];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw wrongType(param, value, 'true or false');
  return value;
}

export interface NumberRange {
  min?: number;
  max?: number;
  /** The lower bound itself is not allowed (top_p > 0). */
  minExclusive?: boolean;
  integer?: boolean;
}

export function optionalNumber(body: Body, param: string, range: NumberRange = {}): number | undefined {
  const value = body[param];
  if (value === undefined || value === null) return undefined;
  const kind = range.integer ? 'an integer' : 'a number';
  if (typeof value !== 'number' || !Number.isFinite(value) || (range.integer && !Number.isInteger(value))) {
    throw wrongType(param, value, describeRange(kind, range));
  }
  const { min, max } = range;
  if ((min !== undefined && (range.minExclusive ? value <= min : value < min)) || (max !== undefined && value > max)) {
    throw invalidRequest(`${param} is ${value}, expected ${describeRange(kind, range)}`, param, 'out_of_range');
  }
  return value;
}

function describeRange(kind: string, { min, max, minExclusive }: NumberRange): string {
  const low = min === undefined ? '' : `${minExclusive ? 'above' : 'at least'} ${min}`;
  const high = max === undefined ? '' : `at most ${max}`;
  const bounds = [low, high].filter(Boolean).join(' and ');
  return bounds ? `${kind} ${bounds}` : kind;
}

/** OpenAI's `stop`: one string or a list of up to four non-empty strings. */
export function stopSequences(body: Body, param = 'stop'): string[] {
  const value = body[param];
  if (value === undefined || value === null) return [];
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list)) throw wrongType(param, value, 'a string or a list of up to 4 strings');
  if (list.length > 4) throw invalidRequest(`${param} has ${list.length} sequences, expected at most 4`, param, 'out_of_range');
  list.forEach((item, i) => {
    if (typeof item !== 'string') throw wrongType(`${param}[${i}]`, item, 'a string');
    if (item === '') throw invalidRequest(`${param}${typeof value === 'string' ? '' : `[${i}]`} is an empty string, expected at least one character`, param, 'invalid_value');
  });
  return list as string[];
}

/** `stream_options`: only `include_usage`, and only with `stream: true`. */
export function streamOptions(body: Body, stream: boolean): { includeUsage: boolean } {
  const value = body.stream_options;
  if (value === undefined || value === null) return { includeUsage: false };
  if (!stream) throw invalidRequest('stream_options is only allowed when stream is true', 'stream_options', 'invalid_value');
  if (typeof value !== 'object' || Array.isArray(value)) throw wrongType('stream_options', value, 'an object like {"include_usage": true}');
  const options = value as Body;
  for (const key of Object.keys(options)) {
    if (key !== 'include_usage') throw invalidRequest(`unrecognized argument "stream_options.${key}"; accepted: include_usage`, `stream_options.${key}`, 'unknown_parameter');
  }
  const includeUsage = options.include_usage;
  if (includeUsage !== undefined && includeUsage !== null && typeof includeUsage !== 'boolean') {
    throw wrongType('stream_options.include_usage', includeUsage, 'true or false');
  }
  return { includeUsage: includeUsage === true };
}
