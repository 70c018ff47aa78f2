/**
 * Reading safetensors files into tensors.
 *
 * Each tensor's bytes are read from the file straight into a typed array of its own, which
 * becomes the tensor's storage without a copy (fromHostArray adopts host arrays on host
 * devices). One buffer per tensor, rather than one for the file, keeps every array aligned
 * whatever the file's offsets, lets a disposed tensor free its memory, bounds the peak during
 * dtype conversion to one tensor, and has no 2 GiB file limit: a 1 GB checkpoint needs 1 GB.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { endianness } from 'node:os';
import { cast, fromHostArray, noGrad, type DType, type HostArray, type Tensor } from '@lmflow/tensor';
import { LOADABLE_SAFETENSORS_DTYPES, tensorDTypeOf } from './dtypes.js';
import { SafetensorsFormatError, parseSafetensorsHeader, readHeaderLength, type SafetensorsEntry, type SafetensorsHeader } from './header.js';

export interface LoadSafetensorsOptions {
  /** Where the tensors go. @default the default device */
  device?: string;
  /**
   * Converts floating-point tensors to this dtype (f32, bf16, f16, f64); integer tensors keep
   * theirs. @default as stored
   */
  dtype?: DType;
  /** Loads only these tensors; a name the file lacks is an error. @default every tensor */
  names?: Iterable<string>;
}

export interface SafetensorsContents {
  /** By name, in the order of their data in the file. */
  tensors: Map<string, Tensor>;
  metadata: Readonly<Record<string, string>> | null;
}

/** Reads and checks the header only (names, dtypes, shapes, metadata). */
export async function readSafetensorsHeader(file: string): Promise<SafetensorsHeader> {
  const handle = await openFile(file);
  try {
    return await readHeader(handle, file);
  } finally {
    await handle.close();
  }
}

/** Loads the tensors of a safetensors file. */
export async function loadSafetensors(file: string, options: LoadSafetensorsOptions = {}): Promise<SafetensorsContents> {
  if (endianness() !== 'LE') throw new Error(`loadSafetensors ${file}: safetensors data is little-endian and this machine is not`);
  const handle = await openFile(file);
  const tensors = new Map<string, Tensor>();
  try {
    const header = await readHeader(handle, file);
    const entries = selectEntries(header, options.names);
    for (const entry of entries) {
      if (!tensorDTypeOf(entry.dtype)) {
        throw new SafetensorsFormatError(
          file,
          `tensor "${entry.name}" has dtype ${entry.dtype}, which @lmflow/tensor cannot hold; loadable dtypes: ${LOADABLE_SAFETENSORS_DTYPES.join(', ')}`,
        );
      }
    }
    for (const entry of entries) {
      tensors.set(entry.name, await readTensor(handle, header, entry, options));
    }
    return { tensors, metadata: header.metadata };
  } catch (error) {
    for (const t of tensors.values()) t.dispose();
    throw error;
  } finally {
    await handle.close();
  }
}

async function openFile(file: string): Promise<FileHandle> {
  try {
    return await open(file, 'r');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new Error(`safetensors file ${file}: cannot open it (${code ?? (error as Error).message})`, { cause: error });
  }
}

async function readHeader(handle: FileHandle, file: string): Promise<SafetensorsHeader> {
  const { size } = await handle.stat();
  const prefix = new Uint8Array(8);
  if (size >= 8) await readExactly(handle, prefix, 0, file);
  const length = readHeaderLength(prefix, size, file);
  const headerBytes = new Uint8Array(length);
  await readExactly(handle, headerBytes, 8, file);
  return parseSafetensorsHeader(headerBytes, size, file);
}

function selectEntries(header: SafetensorsHeader, names: Iterable<string> | undefined): SafetensorsEntry[] {
  if (!names) return [...header.entries];
  const byName = new Map(header.entries.map((e) => [e.name, e]));
  const wanted = new Set(names);
  const missing = [...wanted].filter((n) => !byName.has(n));
  if (missing.length > 0) {
    throw new Error(`safetensors file ${header.file}: has no tensor ${missing.slice(0, 5).map((n) => `"${n}"`).join(', ')}${missing.length > 5 ? ` (and ${missing.length - 5} more)` : ''}`);
  }
  // File order: reads move forward through the file.
  return header.entries.filter((e) => wanted.has(e.name));
}

async function readTensor(handle: FileHandle, header: SafetensorsHeader, entry: SafetensorsEntry, options: LoadSafetensorsOptions): Promise<Tensor> {
  const stored = tensorDTypeOf(entry.dtype)!;
  const bytes = entry.end - entry.begin;
  const buffer = new ArrayBuffer(bytes);
  await readExactly(handle, new Uint8Array(buffer), header.dataStart + entry.begin, header.file);
  const data = typedArray(stored, buffer);
  const t = fromHostArray(data, { dtype: stored, shape: entry.shape, device: options.device });
  const target = options.dtype;
  if (!target || target === stored || !isFloatDType(stored)) return t;
  if (!isFloatDType(target)) {
    t.dispose();
    throw new Error(`loadSafetensors ${header.file}: dtype must be a floating dtype (f32, bf16, f16, f64), got ${target}`);
  }
  const converted = noGrad(() => cast(t, target));
  t.dispose();
  return converted;
}

function typedArray(dtype: DType, buffer: ArrayBuffer): HostArray {
  switch (dtype) {
    case 'f32':
      return new Float32Array(buffer);
    case 'f64':
      return new Float64Array(buffer);
    case 'bf16':
    case 'f16':
      return new Uint16Array(buffer);
    case 'i32':
      return new Int32Array(buffer);
    case 'i64':
      return new BigInt64Array(buffer);
    case 'u8':
      return new Uint8Array(buffer);
  }
}

function isFloatDType(dtype: DType): boolean {
  return dtype === 'f32' || dtype === 'bf16' || dtype === 'f16' || dtype === 'f64';
}

/** Fills target from the file at position; a short file is an error naming it. */
async function readExactly(handle: FileHandle, target: Uint8Array, position: number, file: string): Promise<void> {
  let done = 0;
  while (done < target.length) {
    // One read returns at most ~2 GiB on Linux; loop until the range is filled.
    const { bytesRead } = await handle.read(target, done, Math.min(target.length - done, 1 << 30), position + done);
    if (bytesRead === 0) {
      throw new SafetensorsFormatError(file, `the file ended at byte ${position + done} while reading bytes [${position}, ${position + target.length})`);
    }
    done += bytesRead;
  }
}
