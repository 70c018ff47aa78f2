/** Reading the records of a file to convert: a JSON array, or JSON Lines (one object per line). */
import { extname } from 'node:path';
import { DatasetError, describeValue } from '../dataset/dataset-error.js';
import { parseJsonLines, parseJsonText, readText } from '../dataset/json-text.js';

export interface SourceRecords {
  records: Record<string, unknown>[];
  /** 1-based line of each record in a JSON Lines file (undefined for a JSON array). */
  lines?: number[];
}

/** jsonLines 'auto': JSON Lines unless the text starts with "[" (some sources ship JSON Lines named .json). */
export async function readSourceRecords(file: string, format: string, options: { jsonLines: boolean | 'auto' }): Promise<SourceRecords> {
  const text = await readText(file);
  const jsonLines =
    options.jsonLines === 'auto' ? !text.replace(/^\uFEFF/, '').trimStart().startsWith('[') : options.jsonLines || ['.jsonl', '.ndjson'].includes(extname(file).toLowerCase());
  let values: unknown[];
  let lines: number[] | undefined;
  if (jsonLines) {
    ({ values, lines } = parseJsonLines(text, file));
  } else {
    const json = parseJsonText(text, file);
    if (!Array.isArray(json)) {
      const lmflow = typeof json === 'object' && json !== null && 'instances' in json;
      throw new DatasetError(
        { file },
        lmflow
          ? `is already an LMFlow dataset {"type": ..., "instances": [...]}, expected a ${format} list to convert`
          : `is ${describeValue(json)}, expected a JSON array of ${format} records (or a .jsonl file with one record per line)`,
      );
    }
    values = json;
  }
  if (values.length === 0) throw new DatasetError({ file }, `has no ${format} records to convert`);
  values.forEach((value, index) => {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new DatasetError({ file, index }, `is ${describeValue(value)}, expected a ${format} record (a JSON object)`, { label: recordLabel(lines, index) });
    }
  });
  return { records: values as Record<string, unknown>[], ...(lines ? { lines } : {}) };
}

/** How errors name a record: `record 3` in a JSON array, `record 3 (line 5)` in JSON Lines. */
export function recordLabel(lines: number[] | undefined, index: number): string {
  return lines ? `record ${index} (line ${lines[index]})` : `record ${index}`;
}

/** Checks for conversions: each names the file, the record and the field. */
export class RecordCheck {
  constructor(
    readonly file: string,
    readonly index: number,
    private readonly lines: number[] | undefined,
    private readonly format: string,
    /** How errors name the record, when not `record N` / `record N (line L)`. */
    private readonly label?: string,
  ) {}

  fail(detail: string, field?: string): never {
    throw new DatasetError({ file: this.file, index: this.index, ...(field ? { field } : {}) }, detail, { label: this.label ?? recordLabel(this.lines, this.index) });
  }

  expect(field: string, value: unknown, expected: string): never {
    this.fail(`"${field}" is ${describeValue(value)}, expected ${expected}`, field);
  }

  knownFields(record: Record<string, unknown>, allowed: readonly string[]): void {
    for (const key of Object.keys(record)) {
      if (!allowed.includes(key)) this.fail(`unknown field "${key}"; a ${this.format} record has ${allowed.map((f) => `"${f}"`).join(', ')}`, key);
    }
  }

  string(field: string, value: unknown): string {
    if (typeof value !== 'string') this.expect(field, value, 'a string');
    return value;
  }

  optionalString(field: string, value: unknown): string {
    if (value === undefined || value === null) return '';
    return this.string(field, value);
  }
}
