/**
 * Writing safetensors files as the reference implementation does, so Python reads them as its
 * own: tensors ordered by alignment (8-byte dtypes first, then 4, 2, 1) then by name, which
 * keeps every tensor aligned to its element size; the JSON header padded with spaces to a
 * multiple of 8 bytes, so the data buffer starts 8-aligned; the file written atomically.
 */
import { endianness } from 'node:os';
import { itemSize, type Tensor } from '@lmflow/tensor';
import { safetensorsDTypeOf } from './dtypes.js';
import { writeAll, writeFileAtomic } from '../util/atomic-write.js';

export interface SaveSafetensorsOptions {
  /** "__metadata__": strings only. Hugging Face's loaders expect { format: "pt" }. @default none */
  metadata?: Readonly<Record<string, string>>;
}

export type TensorMap = ReadonlyMap<string, Tensor> | Readonly<Record<string, Tensor>>;

/** Writes tensors (by name) to a safetensors file, replacing it atomically. */
export async function saveSafetensors(file: string, tensors: TensorMap, options: SaveSafetensorsOptions = {}): Promise<void> {
  if (endianness() !== 'LE') throw new Error(`saveSafetensors ${file}: safetensors data is little-endian and this machine is not`);
  const entries = orderForWriting(file, tensors);
  const header = encodeHeader(file, entries, options.metadata);
  await writeFileAtomic(file, async (handle) => {
    await writeAll(handle, header);
    for (const [, t] of entries) {
      // One tensor's host copy at a time: the peak is the largest tensor, not the file.
      const data = t.dataSync();
      await writeAll(handle, new Uint8Array(data.buffer, data.byteOffset, t.size * itemSize(t.dtype)));
    }
  });
}

/** Bytes the data of these tensors take in a file. */
export function tensorBytes(t: Tensor): number {
  return t.size * itemSize(t.dtype);
}

function orderForWriting(file: string, tensors: TensorMap): [string, Tensor][] {
  const list = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  for (const [name, t] of list) {
    if (name === '' || name === '__metadata__') throw new Error(`saveSafetensors ${file}: invalid tensor name ${JSON.stringify(name)}`);
    if (t.isDisposed) throw new Error(`saveSafetensors ${file}: tensor "${name}" was disposed`);
  }
  return list.sort(([na, a], [nb, b]) => itemSize(b.dtype) - itemSize(a.dtype) || (na < nb ? -1 : na > nb ? 1 : 0));
}

function encodeHeader(file: string, entries: [string, Tensor][], metadata: Readonly<Record<string, string>> | undefined): Uint8Array {
  const json: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) {
    for (const [key, value] of Object.entries(metadata)) {
      if (typeof value !== 'string') throw new Error(`saveSafetensors ${file}: metadata "${key}" is ${typeof value}, expected a string`);
    }
    json.__metadata__ = metadata;
  }
  let offset = 0;
  for (const [name, t] of entries) {
    const bytes = tensorBytes(t);
    json[name] = { dtype: safetensorsDTypeOf(t.dtype), shape: [...t.shape], data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  const text = new TextEncoder().encode(JSON.stringify(json));
  const padded = Math.ceil(text.length / 8) * 8;
  const out = new Uint8Array(8 + padded).fill(0x20, 8 + text.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(text, 8);
  return out;
}
