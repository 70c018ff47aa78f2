/**
 * The error every bad dataset file produces: it names the file, the instance and the field, so
 * a user can open the file and fix the line (`dataset data/train.json: instance 17:
 * "messages[2].role" is "bot", expected "user" or "assistant"`).
 */
export interface DatasetErrorLocation {
  /** The file as the user named it (or as found in the folder they named). */
  file: string;
  /** Index of the instance (or record, for conversions) in its file. */
  index?: number;
  /** Field path inside the instance: `messages[2].role`. */
  field?: string;
}

export class DatasetError extends Error {
  readonly file: string;
  readonly index: number | undefined;
  readonly field: string | undefined;
  /** What is wrong, without the location. */
  readonly detail: string;

  /** `label` replaces "instance N" (conversions say "record 3 (line 4)"). */
  constructor(location: DatasetErrorLocation, detail: string, options?: { cause?: unknown; label?: string }) {
    const where = location.index === undefined ? '' : ` ${options?.label ?? `instance ${location.index}`}:`;
    super(`dataset ${location.file}:${where} ${detail}`, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DatasetError';
    this.file = location.file;
    this.index = location.index;
    this.field = location.field;
    this.detail = detail;
  }
}

/** A value as an error message shows it: JSON, cut short, with its kind when that helps. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'missing';
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  if (text.length > 60) text = `${text.slice(0, 57)}...`;
  if (value === null) return 'null';
  if (Array.isArray(value)) return `${text} (an array)`;
  if (typeof value === 'object') return `${text} (an object)`;
  if (typeof value === 'number') return `${text} (a number)`;
  if (typeof value === 'boolean') return `${text} (a boolean)`;
  return text;
}
