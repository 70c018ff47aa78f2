/**
 * Malformed safetensors files, written byte by byte: each is refused with an error naming the
 * file and the problem, before any tensor data is read.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadSafetensors, readSafetensorsHeader } from '../index.js';
import { stories260K } from '../test-support/paths.js';

let tmp: string;
let counter = 0;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'lmflow-st-header-'));
});

afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** A file of: u64 length (given or the header's), the header bytes, then data bytes. */
async function file(header: string | Uint8Array, data: Uint8Array | number = 0, length?: bigint): Promise<string> {
  const bytes = typeof header === 'string' ? new TextEncoder().encode(header) : header;
  const body = typeof data === 'number' ? new Uint8Array(data) : data;
  const out = new Uint8Array(8 + bytes.length + body.length);
  new DataView(out.buffer).setBigUint64(0, length ?? BigInt(bytes.length), true);
  out.set(bytes, 8);
  out.set(body, 8 + bytes.length);
  const name = path.join(tmp, `case-${counter++}.safetensors`);
  await writeFile(name, out);
  return name;
}

const entry = (dtype: string, shape: number[], begin: number, end: number) => ({ dtype, shape, data_offsets: [begin, end] });

async function expectRejected(name: string, message: string | RegExp): Promise<void> {
  for (const read of [readSafetensorsHeader, loadSafetensors]) {
    const error = await read(name).then(
      () => null,
      (e: Error) => e,
    );
    expect(error, `${read.name} accepted ${name}`).toBeInstanceOf(Error);
    expect(error!.message).toContain(name);
    if (typeof message === 'string') expect(error!.message).toContain(message);
    else expect(error!.message).toMatch(message);
  }
}

describe('valid headers', () => {
  it('reads the header of a file written by the Python safetensors library', async () => {
    const header = await readSafetensorsHeader(path.join(stories260K, 'model.safetensors'));
    expect(header.metadata).toEqual({ format: 'pt' });
    expect(header.entries).toHaveLength(47);
    expect(header.dataStart).toBe(8 + 4856);
    expect(header.entries[0]).toEqual({ name: 'model.embed_tokens.weight', dtype: 'F32', shape: [512, 64], begin: 0, end: 131072 });
  });

  it('accepts scalars, zero-size tensors, trailing spaces and entries in any order', async () => {
    const header = JSON.stringify({
      b: entry('F32', [2], 4, 12),
      empty: entry('F16', [0, 3], 4, 4),
      a: entry('F32', [], 0, 4),
    });
    const name = await file(`${header}   `, Uint8Array.from([0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64]));
    const { tensors, metadata } = await loadSafetensors(name, { device: 'cpu' });
    expect(metadata).toBeNull();
    expect(tensors.get('a')!.shape).toEqual([]);
    expect(tensors.get('a')!.item()).toBe(1);
    expect(tensors.get('b')!.toFlatArray()).toEqual([2, 3]);
    expect(tensors.get('empty')!.shape).toEqual([0, 3]);
    for (const t of tensors.values()) t.dispose();
  });
});

describe('malformed files are refused with the file and the problem named', () => {
  it('a file shorter than the length field', async () => {
    const name = path.join(tmp, 'short.safetensors');
    await writeFile(name, Uint8Array.from([1, 0, 0]));
    await expectRejected(name, 'the file has 3 bytes; a safetensors file starts with an 8-byte header length');
  });

  it('a header length larger than the file', async () => {
    await expectRejected(await file('{}', 0, 1000n), 'the header length 1000 is larger than the 2 bytes after the length field (file size 10)');
  });

  it('a header length that does not fit in a JS number (u64 max)', async () => {
    await expectRejected(await file('{}', 0, 0xffffffffffffffffn), 'the header length 18446744073709551615 is larger than');
  });

  it('a header length over the 100 MiB limit (sparse file, no disk used)', async () => {
    const name = path.join(tmp, 'huge-header.safetensors');
    const handle = await open(name, 'w');
    const prefix = new Uint8Array(8);
    new DataView(prefix.buffer).setBigUint64(0, 200_000_000n, true);
    await handle.write(prefix, 0, 8, 0);
    await handle.truncate(8 + 200_000_000);
    await handle.close();
    await expectRejected(name, 'the header length 200000000 is over the limit of 104857600 bytes');
  });

  it('a header that does not start with "{"', async () => {
    await expectRejected(await file(' {}'), 'the header must start with "{", found byte 0x20');
  });

  it('a header that is not UTF-8', async () => {
    await expectRejected(await file(Uint8Array.from([0x7b, 0xff, 0xfe, 0x7d])), 'the header is not valid UTF-8');
  });

  it('a header that is not JSON', async () => {
    await expectRejected(await file('{"a": {"dtype": "F32",}'), /the header is not valid JSON \(/);
  });

  it('a header that is a JSON array or a bad entry', async () => {
    await expectRejected(await file('[1, 2]'), 'the header must start with "{"');
    await expectRejected(await file('{"a": 5}'), 'tensor "a" is 5, expected an object with dtype, shape and data_offsets');
  });

  it('an unknown dtype', async () => {
    await expectRejected(await file(JSON.stringify({ w: entry('F17', [1], 0, 4) }), 4), 'tensor "w" has unknown dtype "F17"; expected one of BOOL, U8');
  });

  it('a dtype the tensor package cannot hold is refused at load (the header itself is valid)', async () => {
    const name = await file(JSON.stringify({ w: entry('I8', [4], 0, 4) }), 4);
    expect((await readSafetensorsHeader(name)).entries[0]!.dtype).toBe('I8');
    await expect(loadSafetensors(name)).rejects.toThrow(`safetensors file ${name}: tensor "w" has dtype I8, which @lmflow/tensor cannot hold; loadable dtypes: F32, BF16, F16, F64, I64, I32, U8, BOOL`);
  });

  it('a shape that does not match the byte length', async () => {
    await expectRejected(await file(JSON.stringify({ w: entry('F32', [2, 3], 0, 20) }), 20), 'tensor "w" (F32 [2, 3]) needs 24 bytes but data_offsets [0, 20] hold 20');
  });

  it('a shape whose byte count would overflow 64 bits', async () => {
    const big = 2 ** 40;
    await expectRejected(await file(JSON.stringify({ w: entry('F64', [big, big, big], 0, 8) }), 8), `needs ${8n * BigInt(big) ** 3n} bytes but data_offsets [0, 8] hold 8`);
  });

  it('a shape with a negative or fractional dimension', async () => {
    await expectRejected(await file(JSON.stringify({ w: entry('U8', [-1], 0, 1) }), 1), 'tensor "w" has shape [-1], expected an array of non-negative integers');
    await expectRejected(await file(JSON.stringify({ w: entry('U8', [1.5], 0, 1) }), 1), 'has shape [1.5]');
  });

  it('data_offsets that are not [begin, end] or are reversed', async () => {
    await expectRejected(await file(JSON.stringify({ w: { dtype: 'U8', shape: [1], data_offsets: [0] } }), 1), 'tensor "w" has data_offsets [0], expected [begin, end]');
    await expectRejected(await file(JSON.stringify({ w: entry('U8', [0], 4, 2) }), 4), 'data_offsets [4, 2]: the end is before the begin');
  });

  it('offsets beyond the end of the file', async () => {
    await expectRejected(await file(JSON.stringify({ w: entry('F32', [4], 0, 16) }), 8), 'tensor "w" has data_offsets [0, 16] beyond the data buffer of 8 bytes');
  });

  it('overlapping tensors', async () => {
    const header = JSON.stringify({ a: entry('F32', [2], 0, 8), b: entry('F32', [2], 4, 12) });
    await expectRejected(await file(header, 12), 'tensor "b" at data_offsets [4, 12] overlaps tensor "a" at [0, 8]');
  });

  it('a gap between tensors', async () => {
    const header = JSON.stringify({ a: entry('F32', [1], 0, 4), b: entry('F32', [1], 8, 12) });
    await expectRejected(await file(header, 12), 'bytes [4, 8) of the data buffer belong to no tensor (before "b")');
  });

  it('bytes after the last tensor', async () => {
    await expectRejected(await file(JSON.stringify({ a: entry('F32', [1], 0, 4) }), 9), 'bytes [4, 9) at the end of the data buffer belong to no tensor');
  });

  it('metadata that is not strings', async () => {
    await expectRejected(await file(JSON.stringify({ __metadata__: { format: 'pt', step: 5 } })), '"__metadata__"."step" is 5, expected a string');
  });

  it('a missing file', async () => {
    const name = path.join(tmp, 'missing.safetensors');
    await expect(readSafetensorsHeader(name)).rejects.toThrow(`safetensors file ${name}: cannot open it (ENOENT)`);
  });
});
