/**
 * Reading config.json fields with errors that name the file, the key, the value found and what
 * was expected. A missing optional key takes the default transformers gives it; a present key
 * of the wrong type is always an error, never replaced by a default.
 */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export interface ConfigFields {
  readonly file: string;
  readonly raw: Readonly<Record<string, unknown>>;
  /** An error about key: `config.json <file>: "key" is <value>, expected <what>`. */
  fail(key: string, expected: string, detail?: string): never;
  positiveInt(key: string, fallback?: number): number;
  nonNegativeInt(key: string, fallback?: number): number;
  positiveNumber(key: string, fallback?: number): number;
  nonNegativeNumber(key: string, fallback?: number): number;
  boolean(key: string, fallback: boolean): boolean;
  /** A positive integer, or null when absent or null. */
  optionalPositiveInt(key: string, fallback: number | null): number | null;
  string<T extends string>(key: string, allowed: readonly T[], fallback?: T): T;
}

export function configFields(raw: Readonly<Record<string, unknown>>, file: string): ConfigFields {
  const fail = (key: string, expected: string, detail?: string): never => {
    const found = key in raw ? `is ${describe(raw[key])}` : 'is missing';
    throw new ConfigError(`config.json ${file}: "${key}" ${found}, expected ${expected}${detail ? ` (${detail})` : ''}`);
  };
  const read = <T>(key: string, fallback: T | undefined, expected: string, ok: (v: unknown) => boolean): T => {
    const value = raw[key];
    if (value === undefined && fallback !== undefined) return fallback;
    if (!ok(value)) fail(key, expected);
    return value as T;
  };
  return {
    file,
    raw,
    fail,
    positiveInt: (key, fallback) => read(key, fallback, 'a positive integer', (v) => Number.isSafeInteger(v) && (v as number) > 0),
    nonNegativeInt: (key, fallback) => read(key, fallback, 'an integer >= 0', (v) => Number.isSafeInteger(v) && (v as number) >= 0),
    positiveNumber: (key, fallback) => read(key, fallback, 'a positive number', (v) => typeof v === 'number' && Number.isFinite(v) && v > 0),
    nonNegativeNumber: (key, fallback) => read(key, fallback, 'a number >= 0', (v) => typeof v === 'number' && Number.isFinite(v) && v >= 0),
    boolean: (key, fallback) => read(key, fallback, 'true or false', (v) => typeof v === 'boolean'),
    optionalPositiveInt: (key, fallback) => {
      if (raw[key] === null) return null;
      return read(key, fallback, 'a positive integer or null', (v) => Number.isSafeInteger(v) && (v as number) > 0);
    },
    string: (key, allowed, fallback) =>
      read(key, fallback, `one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}`, (v) => typeof v === 'string' && (allowed as readonly string[]).includes(v)),
  };
}

function describe(value: unknown): string {
  const json = JSON.stringify(value);
  const text = json === undefined ? String(value) : json.length > 60 ? `${json.slice(0, 57)}...` : json;
  const kind = value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value === 'object' ? 'an object' : `a ${typeof value}`;
  return `${text} (${kind})`;
}
