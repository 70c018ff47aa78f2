/**
 * The safetensors header, read as hostile input. The format: an unsigned 64-bit little-endian
 * length N, N bytes of UTF-8 JSON (starting with "{", maybe padded with spaces), then the data
 * buffer. The JSON maps each tensor name to { dtype, shape, data_offsets: [begin, end] }
 * (offsets relative to the data buffer) and may hold "__metadata__" (string to string).
 *
 * Every number is checked before it is used, so a bad file is an error that names the file and
 * the problem, never an out-of-bounds read: the length against the file size, each dtype,
 * each shape against its byte range, and the ranges against each other. The format requires
 * the ranges to cover the data buffer exactly, with no gap and no overlap (this rules out
 * polyglot files hiding other content), and so does this parser.
 */
import { SAFETENSORS_DTYPE_SIZES, isSafetensorsDType } from './dtypes.js';

/** The largest header accepted (the reference implementation's limit too). */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export interface SafetensorsEntry {
  readonly name: string;
  /** The format's spelling: F32, BF16, I64, ... */
  readonly dtype: string;
  readonly shape: readonly number[];
  /** Byte offsets in the data buffer: [begin, end). */
  readonly begin: number;
  readonly end: number;
}

export interface SafetensorsHeader {
  readonly file: string;
  /** Where the data buffer starts in the file: 8 + the header length. */
  readonly dataStart: number;
  /** The tensors in the order of their data in the file. */
  readonly entries: readonly SafetensorsEntry[];
  /** "__metadata__", or null when the file has none. */
  readonly metadata: Readonly<Record<string, string>> | null;
}

export class SafetensorsFormatError extends Error {
  constructor(
    readonly file: string,
    detail: string,
  ) {
    super(`safetensors file ${file}: ${detail}`);
    this.name = 'SafetensorsFormatError';
  }
}

/**
 * The header length in the first 8 bytes, checked against the file size. `prefix` holds at
 * least the first 8 bytes of the file.
 */
export function readHeaderLength(prefix: Uint8Array, fileSize: number, file: string): number {
  if (fileSize < 8 || prefix.length < 8) {
    throw new SafetensorsFormatError(file, `the file has ${fileSize} bytes; a safetensors file starts with an 8-byte header length`);
  }
  const length = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (length > BigInt(fileSize - 8)) {
    throw new SafetensorsFormatError(file, `the header length ${length} is larger than the ${fileSize - 8} bytes after the length field (file size ${fileSize})`);
  }
  if (length > BigInt(MAX_HEADER_BYTES)) {
    throw new SafetensorsFormatError(file, `the header length ${length} is over the limit of ${MAX_HEADER_BYTES} bytes`);
  }
  if (length < 2n) {
    throw new SafetensorsFormatError(file, `the header length ${length} is too small for a JSON object`);
  }
  return Number(length);
}

/**
 * Parses and checks the header. `headerBytes` are the N bytes after the length field; the
 * file size bounds the data buffer.
 */
export function parseSafetensorsHeader(headerBytes: Uint8Array, fileSize: number, file: string): SafetensorsHeader {
  const dataStart = 8 + headerBytes.length;
  if (headerBytes[0] !== 0x7b) {
    throw new SafetensorsFormatError(file, `the header must start with "{", found byte 0x${(headerBytes[0] ?? 0).toString(16).padStart(2, '0')}`);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
  } catch {
    throw new SafetensorsFormatError(file, 'the header is not valid UTF-8');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new SafetensorsFormatError(file, `the header is not valid JSON (${(error as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new SafetensorsFormatError(file, 'the header must be a JSON object');
  }

  let metadata: Record<string, string> | null = null;
  const entries: SafetensorsEntry[] = [];
  for (const [name, value] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      metadata = parseMetadata(value, file);
      continue;
    }
    entries.push(parseEntry(name, value, file));
  }

  checkCoverage(entries, fileSize - dataStart, file);
  return { file, dataStart, entries, metadata };
}

function parseMetadata(value: unknown, file: string): Record<string, string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new SafetensorsFormatError(file, '"__metadata__" must be an object of strings');
  }
  const metadata: Record<string, string> = {};
  for (const [key, v] of Object.entries(value)) {
    if (typeof v !== 'string') {
      throw new SafetensorsFormatError(file, `"__metadata__"."${key}" is ${describeJson(v)}, expected a string (metadata maps strings to strings)`);
    }
    metadata[key] = v;
  }
  return metadata;
}

function parseEntry(name: string, value: unknown, file: string): SafetensorsEntry {
  const where = `tensor "${name}"`;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new SafetensorsFormatError(file, `${where} is ${describeJson(value)}, expected an object with dtype, shape and data_offsets`);
  }
  const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
  if (!isSafetensorsDType(dtype)) {
    throw new SafetensorsFormatError(
      file,
      `${where} has unknown dtype ${describeJson(dtype)}; expected one of ${Object.keys(SAFETENSORS_DTYPE_SIZES).join(', ')}`,
    );
  }
  if (!Array.isArray(shape) || !shape.every(isCount)) {
    throw new SafetensorsFormatError(file, `${where} has shape ${describeJson(shape)}, expected an array of non-negative integers`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) {
    throw new SafetensorsFormatError(file, `${where} has data_offsets ${describeJson(offsets)}, expected [begin, end] with non-negative integers`);
  }
  const [begin, end] = offsets as [number, number];
  if (end < begin) {
    throw new SafetensorsFormatError(file, `${where} has data_offsets [${begin}, ${end}]: the end is before the begin`);
  }
  // BigInt: a hostile shape must not overflow into a plausible byte count.
  let bytes = BigInt(SAFETENSORS_DTYPE_SIZES[dtype]!);
  for (const d of shape as number[]) bytes *= BigInt(d);
  if (bytes !== BigInt(end - begin)) {
    throw new SafetensorsFormatError(
      file,
      `${where} (${dtype} [${(shape as number[]).join(', ')}]) needs ${bytes} bytes but data_offsets [${begin}, ${end}] hold ${end - begin}`,
    );
  }
  return { name, dtype, shape: shape as number[], begin, end };
}

/** Sorts entries by offset in place and checks that they tile [0, dataLength) exactly. */
function checkCoverage(entries: SafetensorsEntry[], dataLength: number, file: string): void {
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  let previous: SafetensorsEntry | null = null;
  for (const entry of entries) {
    if (entry.end > dataLength) {
      throw new SafetensorsFormatError(
        file,
        `tensor "${entry.name}" has data_offsets [${entry.begin}, ${entry.end}] beyond the data buffer of ${dataLength} bytes (the file ends there)`,
      );
    }
    if (entry.begin < covered) {
      throw new SafetensorsFormatError(
        file,
        `tensor "${entry.name}" at data_offsets [${entry.begin}, ${entry.end}] overlaps tensor "${previous!.name}" at [${previous!.begin}, ${previous!.end}]`,
      );
    }
    if (entry.begin > covered) {
      throw new SafetensorsFormatError(
        file,
        `bytes [${covered}, ${entry.begin}) of the data buffer belong to no tensor (before "${entry.name}"); the format requires the tensors to cover the buffer without gaps`,
      );
    }
    covered = entry.end;
    previous = entry;
  }
  if (covered !== dataLength) {
    throw new SafetensorsFormatError(
      file,
      `bytes [${covered}, ${dataLength}) at the end of the data buffer belong to no tensor; the format requires the tensors to cover the buffer without gaps`,
    );
  }
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function describeJson(value: unknown): string {
  const text = JSON.stringify(value);
  if (text === undefined) return String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
