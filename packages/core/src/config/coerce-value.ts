/**
 * Turns what a user wrote (flag words, or values of a YAML/JSON file) into an option's typed
 * value, and checks it (type, range, enum, existence, the spec's own validator). Every failure
 * reads `<where>: expected <what>, got <value>`.
 */
import { statSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, describeSource, type ValueSource } from './config-error.js';
import { closestName } from './closest-name.js';
import type { ListItemType, OptionSpec } from './option-spec.js';

export interface CoerceContext {
  /** Relative paths resolve against this folder. */
  readonly cwd: string;
}

/** The value of a flag from its words (`--no_x` passes negated). */
export function coerceFlag(spec: OptionSpec, values: readonly string[], negated: boolean, source: ValueSource, context: CoerceContext): unknown {
  if (negated) return false;
  if (spec.type === 'boolean' && values.length === 0) return true;
  if (values.length === 0) throw invalid(spec, source, 'no value', undefined);
  if (spec.type === 'list') {
    const words = values.flatMap((value) => value.split(','));
    if (words.some((word) => word.trim() === '')) throw invalid(spec, source, quote(values.join(' ')), 'an empty item');
    return check(spec, words.map((word) => parseItem(spec, spec.items, word.trim(), source, quote(word))), source, context);
  }
  return check(spec, parseScalar(spec, values[0]!, source, quote(values[0]!)), source, context);
}

/**
 * The value of a config-file key. Numbers and booleans may also be written as strings (flags
 * are strings too, and PyYAML-era files quote `"1e-5"`); a string option does not take a
 * number, since `1.0` would silently become "1".
 */
export function coerceFileValue(spec: OptionSpec, value: unknown, source: ValueSource, context: CoerceContext): unknown {
  const shown = show(value);
  if (spec.type === 'list') {
    const items = Array.isArray(value) ? value : typeof value === 'string' ? value.split(',').map((s) => s.trim()) : [value];
    if (items.length === 0 || items.some((item) => item === '' || item === null || typeof item === 'object')) {
      throw invalid(spec, source, shown, undefined);
    }
    return check(spec, items.map((item) => parseItem(spec, spec.items, item, source, shown)), source, context);
  }
  if (typeof value === 'string') return check(spec, parseScalar(spec, value, source, shown), source, context);
  const accepted =
    (typeof value === 'number' && (spec.type === 'number' || spec.type === 'integer')) ||
    (typeof value === 'boolean' && spec.type === 'boolean') ||
    (typeof value === 'number' && spec.type === 'boolean' && (value === 0 || value === 1));
  if (!accepted) throw invalid(spec, source, shown, undefined);
  if (spec.type === 'boolean') return check(spec, value === true || value === 1, source, context);
  return check(spec, parseNumber(spec, spec.type as 'number' | 'integer', value as number, source, shown), source, context);
}

const TRUE_WORDS = new Set(['true', 't', 'yes', 'y', '1']);
const FALSE_WORDS = new Set(['false', 'f', 'no', 'n', '0']);
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;
const INTEGER = /^[+-]?\d+$/;

function parseScalar(spec: OptionSpec, word: string, source: ValueSource, shown: string): unknown {
  switch (spec.type) {
    case 'boolean': {
      const lower = word.toLowerCase();
      if (TRUE_WORDS.has(lower)) return true;
      if (FALSE_WORDS.has(lower)) return false;
      throw invalid(spec, source, shown, undefined);
    }
    case 'number':
    case 'integer':
      return parseNumber(spec, spec.type, word, source, shown);
    case 'path':
      if (word === '') throw invalid(spec, source, 'an empty value', undefined);
      return word;
    case 'string':
    case 'enum':
      return word;
    default:
      throw new Error(`unreachable: list handled by the caller`);
  }
}

function parseItem(spec: OptionSpec, type: ListItemType, item: unknown, source: ValueSource, shown: string): string | number {
  if (type === 'string') {
    if (typeof item !== 'string') throw invalid(spec, source, shown, undefined);
    return item;
  }
  return parseNumber(spec, type, item, source, shown);
}

function parseNumber(spec: OptionSpec, type: 'number' | 'integer', value: unknown, source: ValueSource, shown: string): number {
  let n: number;
  if (typeof value === 'number') n = value;
  else if (typeof value === 'string' && (type === 'integer' ? INTEGER : NUMBER).test(value.trim())) n = Number(value.trim());
  else throw invalid(spec, source, shown, undefined);
  if (!Number.isFinite(n) || (type === 'integer' && !Number.isSafeInteger(n))) throw invalid(spec, source, shown, undefined);
  return n;
}

/** Range, enum, existence and the spec's validator, on the typed value. */
function check(spec: OptionSpec, value: unknown, source: ValueSource, context: CoerceContext): unknown {
  const shown = typeof value === 'number' || typeof value === 'boolean' ? String(value) : JSON.stringify(value);
  if (spec.type === 'number' || spec.type === 'integer' || spec.type === 'list') {
    const numbers = spec.type === 'list' ? (spec.items === 'string' ? [] : (value as number[])) : [value as number];
    if (numbers.some((n) => !inBounds(spec, n))) throw invalid(spec, source, shown, undefined);
  }
  if (spec.type === 'enum' && !spec.values.includes(value as string)) {
    const guess = closestName(value as string, spec.values);
    throw invalid(spec, source, shown, undefined, guess ? `; did you mean "${guess}"?` : '');
  }
  if (spec.type === 'path') value = checkPath(spec, value as string, source, context);
  if (spec.validate) {
    const expected = (spec.validate as (v: unknown) => string | undefined)(value);
    if (expected !== undefined) throw new ConfigError(`${describeSource(source)}: expected ${expected}, got ${shown}`, optionOf(source));
  }
  return value;
}

function checkPath(spec: OptionSpec & { type: 'path' }, value: string, source: ValueSource, context: CoerceContext): string {
  const absolute = path.resolve(context.cwd, value);
  if (!spec.mustExist) return absolute;
  const stat = statSync(absolute, { throwIfNoEntry: false });
  let problem: string | undefined;
  if (!stat) problem = `nothing at ${absolute}`;
  else if (spec.mustExist === 'file' && !stat.isFile()) problem = `${absolute} is a folder`;
  else if (spec.mustExist === 'directory' && !stat.isDirectory()) problem = `${absolute} is a file`;
  if (problem) throw invalid(spec, source, quote(value), problem);
  return absolute;
}

function inBounds(spec: { min?: number; max?: number; exclusiveMin?: number; exclusiveMax?: number }, n: number): boolean {
  return (
    (spec.min === undefined || n >= spec.min) &&
    (spec.max === undefined || n <= spec.max) &&
    (spec.exclusiveMin === undefined || n > spec.exclusiveMin) &&
    (spec.exclusiveMax === undefined || n < spec.exclusiveMax)
  );
}

/** What the option takes, as error messages and --help say it ("an integer >= 1"). */
export function expectedOf(spec: OptionSpec): string {
  const bounds = (s: { min?: number; max?: number; exclusiveMin?: number; exclusiveMax?: number }) => {
    const parts: string[] = [];
    if (s.min !== undefined) parts.push(`>= ${s.min}`);
    if (s.exclusiveMin !== undefined) parts.push(`> ${s.exclusiveMin}`);
    if (s.max !== undefined) parts.push(`<= ${s.max}`);
    if (s.exclusiveMax !== undefined) parts.push(`< ${s.exclusiveMax}`);
    return parts.length ? ` ${parts.join(' and ')}` : '';
  };
  switch (spec.type) {
    case 'string':
      return 'a string';
    case 'path':
      return spec.mustExist === 'file' ? 'an existing file' : spec.mustExist === 'directory' ? 'an existing folder' : spec.mustExist ? 'an existing file or folder' : 'a path';
    case 'number':
      return `a number${bounds(spec)}`;
    case 'integer':
      return `an integer${bounds(spec)}`;
    case 'boolean':
      return 'true or false (or 1/0, yes/no)';
    case 'enum':
      return `one of ${spec.values.join(', ')}`;
    case 'list':
      return `one or more ${spec.items === 'integer' ? 'integers' : `${spec.items}s`}${bounds(spec)}`;
  }
}

function invalid(spec: OptionSpec, source: ValueSource, got: string, detail: string | undefined, suffix = ''): ConfigError {
  const extra = detail ? ` (${detail})` : '';
  return new ConfigError(`${describeSource(source)}: expected ${expectedOf(spec)}, got ${got}${extra}${suffix}`, optionOf(source));
}

function optionOf(source: ValueSource): { option?: string; file?: string } {
  if (source.kind === 'file') return { option: source.key, file: source.file };
  if (source.kind === 'object') return { option: source.key };
  return {};
}

function quote(word: string): string {
  return JSON.stringify(word);
}

/** A value for a message: JSON, cut to 80 characters, with its kind when it is not a string. */
function show(value: unknown): string {
  let text = value === undefined ? 'undefined' : JSON.stringify(value);
  if (text.length > 80) text = `${text.slice(0, 77)}...`;
  if (typeof value === 'string' || value === undefined) return text;
  const kind = value === null ? 'null' : Array.isArray(value) ? 'a list' : typeof value === 'object' ? 'a mapping' : `a ${typeof value}`;
  return `${text} (${kind})`;
}
