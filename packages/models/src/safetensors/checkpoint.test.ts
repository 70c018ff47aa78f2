/**
 * safetensors round trips through real files: every dtype, single and sharded, bit-exact; the
 * layout Python expects (alignment, padding); shard index checks; atomic writes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { f32ToBf16, f32ToF16, tensor, type Tensor } from '@lmflow/tensor';
import {
  loadCheckpoint,
  loadSafetensors,
  parseShardSize,
  readSafetensorsHeader,
  readShardIndex,
  saveCheckpoint,
  saveSafetensors,
} from '../index.js';
import { normalSource } from '../test-support/random-model.js';

let tmp: string;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'lmflow-st-roundtrip-'));
});

afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** Tensors of every dtype, odd shapes, a scalar and an empty one, with random bits. */
function sampleTensors(): Map<string, Tensor> {
  const normal = normalSource(3);
  const floats = (n: number) => Array.from({ length: n }, () => normal() * 100);
  const bits16 = (n: number) => Uint16Array.from({ length: n }, () => Math.floor(Math.abs(normal()) * 20000) & 0xffff);
  const m = new Map<string, Tensor>();
  m.set('f32.weight', tensor(Float32Array.from(floats(3 * 7)), { shape: [3, 7] }));
  m.set('f32.scalar', tensor([Math.PI], { shape: [] }));
  m.set('f64.values', tensor(Float64Array.from(floats(5)), { dtype: 'f64', shape: [5] }));
  m.set('bf16.weight', tensor(bits16(11 * 3), { dtype: 'bf16', shape: [11, 3] }));
  m.set('f16.weight', tensor(bits16(2 * 5 * 3), { dtype: 'f16', shape: [2, 5, 3] }));
  m.set('i64.ids', tensor(BigInt64Array.from([-(2n ** 62n), -1n, 0n, 7n, 2n ** 53n + 1n]), { dtype: 'i64' }));
  m.set('i32.ids', tensor(Int32Array.from([-2147483648, -1, 0, 5, 2147483647]), { dtype: 'i32' }));
  m.set('u8.mask', tensor(Uint8Array.from([0, 1, 255, 128, 7, 9, 3]), { dtype: 'u8' }));
  m.set('empty', tensor(new Float32Array(0), { shape: [0, 4] }));
  return m;
}

function bytesOf(t: Tensor): Buffer {
  const data = t.dataSync();
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

function expectSameTensors(actual: Map<string, Tensor>, expected: Map<string, Tensor>): void {
  expect([...actual.keys()].sort()).toEqual([...expected.keys()].sort());
  for (const [name, t] of expected) {
    const got = actual.get(name)!;
    expect(got.dtype, name).toBe(t.dtype);
    expect(got.shape, name).toEqual(t.shape);
    expect(bytesOf(got).equals(bytesOf(t)), `${name} bytes`).toBe(true);
  }
}

describe('single file', () => {
  it('round-trips every dtype bit-exactly, with metadata', async () => {
    const tensors = sampleTensors();
    const file = path.join(tmp, 'all.safetensors');
    await saveSafetensors(file, tensors, { metadata: { format: 'pt', note: 'round trip' } });
    const loaded = await loadSafetensors(file, { device: 'cpu' });
    expect(loaded.metadata).toEqual({ format: 'pt', note: 'round trip' });
    expectSameTensors(loaded.tensors, tensors);
    // On the reference backend too.
    expectSameTensors((await loadSafetensors(file, { device: 'reference' })).tensors, tensors);
  });

  it('writes the layout of the reference implementation: 8-byte padded header, tensors by alignment then name, each aligned', async () => {
    const file = path.join(tmp, 'layout.safetensors');
    await saveSafetensors(file, sampleTensors());
    const header = await readSafetensorsHeader(file);
    expect(header.dataStart % 8).toBe(0);
    const raw = await readFile(file);
    const headerText = raw.subarray(8, header.dataStart).toString('utf8');
    expect(headerText).toMatch(/^\{"[^ ]*\} *$/);
    // File order: 8-byte dtypes, then 4, 2, 1; names sorted within a size.
    expect(header.entries.map((e) => e.name)).toEqual(['f64.values', 'i64.ids', 'empty', 'f32.scalar', 'f32.weight', 'i32.ids', 'bf16.weight', 'f16.weight', 'u8.mask']);
    const sizes: Record<string, number> = { F64: 8, I64: 8, F32: 4, I32: 4, BF16: 2, F16: 2, U8: 1 };
    for (const e of header.entries) expect((header.dataStart + e.begin) % sizes[e.dtype]!, e.name).toBe(0);
  });

  it('reads BOOL tensors as u8', async () => {
    const file = path.join(tmp, 'bool.safetensors');
    const json = new TextEncoder().encode(JSON.stringify({ mask: { dtype: 'BOOL', shape: [2, 2], data_offsets: [0, 4] } }).padEnd(64, ' '));
    const out = new Uint8Array(8 + json.length + 4);
    new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
    out.set(json, 8);
    out.set([1, 0, 0, 1], 8 + json.length);
    await writeFile(file, out);
    const { tensors } = await loadSafetensors(file);
    expect(tensors.get('mask')!.dtype).toBe('u8');
    expect(tensors.get('mask')!.toArray()).toEqual([[1, 0], [0, 1]]);
  });

  it('converts floating tensors to the requested dtype on load and keeps integer ones', async () => {
    const file = path.join(tmp, 'convert.safetensors');
    const values = [1.00390625, -3.14159, 65504, 1e-8, 0.1];
    await saveSafetensors(file, { w: tensor(values), ids: tensor([1, 2], { dtype: 'i64' }) });
    const bf16 = (await loadSafetensors(file, { dtype: 'bf16' })).tensors;
    expect(bf16.get('w')!.dtype).toBe('bf16');
    expect([...(bf16.get('w')!.dataSync() as Uint16Array)]).toEqual(values.map(f32ToBf16));
    expect(bf16.get('ids')!.dtype).toBe('i64');
    const f16 = (await loadSafetensors(file, { dtype: 'f16' })).tensors;
    expect([...(f16.get('w')!.dataSync() as Uint16Array)]).toEqual(values.map(f32ToF16));
  });

  it('loads only the named tensors, and names one the file lacks', async () => {
    const file = path.join(tmp, 'all.safetensors');
    const { tensors } = await loadSafetensors(file, { names: ['u8.mask', 'f32.weight'] });
    expect([...tensors.keys()]).toEqual(['f32.weight', 'u8.mask']);
    await expect(loadSafetensors(file, { names: ['nope'] })).rejects.toThrow(`safetensors file ${file}: has no tensor "nope"`);
  });

  it('replaces a file atomically: a failed write leaves the old file and no temporary', async () => {
    const dir = path.join(tmp, 'atomic');
    await mkdir(dir);
    const file = path.join(dir, 'model.safetensors');
    await saveSafetensors(file, { a: tensor([1, 2, 3]) });
    const before = await readFile(file);
    const failing = tensor([4, 5, 6]);
    failing.dataSync = () => {
      throw new Error('device lost');
    };
    await expect(saveSafetensors(file, { a: tensor([9]), b: failing })).rejects.toThrow('device lost');
    expect((await readFile(file)).equals(before)).toBe(true);
    expect(await readdir(dir)).toEqual(['model.safetensors']);
    const disposed = tensor([1]);
    disposed.dispose();
    await expect(saveSafetensors(file, { gone: disposed })).rejects.toThrow(`saveSafetensors ${file}: tensor "gone" was disposed`);
  });
});

describe('sharded checkpoints', () => {
  it('split at maxShardSize, load back bit-exactly; an oversized tensor gets a shard of its own', async () => {
    const dir = path.join(tmp, 'sharded');
    await mkdir(dir);
    const tensors = sampleTensors();
    tensors.set('big', tensor(new Float32Array(40).fill(2)));
    // 64 bytes: f32.weight (84 bytes) and big (160 bytes) exceed it alone.
    const written = await saveCheckpoint(dir, tensors, { maxShardSize: 64 });
    const shards = written.filter((f) => f.endsWith('.safetensors'));
    expect(shards.length).toBeGreaterThan(3);
    expect(shards.every((f, i) => f === `model-${String(i + 1).padStart(5, '0')}-of-${String(shards.length).padStart(5, '0')}.safetensors`)).toBe(true);
    const index = await readShardIndex(path.join(dir, 'model.safetensors.index.json'));
    expect(index.metadata.total_size).toBe([...tensors.values()].reduce((s, t) => s + bytesOf(t).length, 0));
    expect([...index.weightMap.keys()]).toEqual([...tensors.keys()].sort());
    const { tensors: loaded, files } = await loadCheckpoint(dir, { device: 'cpu' });
    expect(files.map((f) => path.basename(f)).sort()).toEqual(shards);
    expectSameTensors(loaded, tensors);
    for (const shard of shards) {
      const header = await readSafetensorsHeader(path.join(dir, shard));
      expect(header.metadata).toEqual({ format: 'pt' });
    }
  });

  it('a single-file save replaces an earlier sharded one (no stale shards or index)', async () => {
    const dir = path.join(tmp, 'sharded');
    await saveCheckpoint(dir, new Map([['x', tensor([1, 2])]]));
    expect(await readdir(dir)).toEqual(['model.safetensors']);
  });

  describe('index problems are named', () => {
    // Shards: 1 holds a and b, 2 holds c.
    async function shardedDir(name: string): Promise<string> {
      const dir = path.join(tmp, name);
      await mkdir(dir);
      await saveCheckpoint(dir, new Map([['a', tensor([1, 2])], ['b', tensor([3, 4])], ['c', tensor([5, 6])]]), { maxShardSize: 16 });
      return dir;
    }
    const indexOf = (dir: string) => path.join(dir, 'model.safetensors.index.json');
    const rewrite = async (dir: string, edit: (index: { weight_map: Record<string, string> }) => void) => {
      const index = JSON.parse(await readFile(indexOf(dir), 'utf8'));
      edit(index);
      await writeFile(indexOf(dir), JSON.stringify(index));
    };

    it('a shard file that is missing', async () => {
      const dir = await shardedDir('missing-shard');
      await rm(path.join(dir, 'model-00002-of-00002.safetensors'));
      await expect(loadCheckpoint(dir)).rejects.toThrow(`${indexOf(dir)}: shard model-00002-of-00002.safetensors (holding "c") is not in ${dir}`);
    });

    it('a tensor mapped to a shard that lacks it', async () => {
      const dir = await shardedDir('wrong-map');
      await rewrite(dir, (index) => {
        index.weight_map.d = 'model-00001-of-00002.safetensors';
      });
      await expect(loadCheckpoint(dir)).rejects.toThrow('maps "d" to model-00001-of-00002.safetensors, but that file has no such tensor');
    });

    it('a shard holding a tensor the index does not list', async () => {
      const dir = await shardedDir('unlisted');
      await rewrite(dir, (index) => {
        delete index.weight_map.b;
      });
      await expect(loadCheckpoint(dir)).rejects.toThrow('holds tensor "b", which model.safetensors.index.json does not list');
    });

    it('a shard the index does not reference at all', async () => {
      const dir = await shardedDir('unreferenced');
      await rewrite(dir, (index) => {
        delete index.weight_map.c;
      });
      await expect(loadCheckpoint(dir)).rejects.toThrow(`${indexOf(dir)}: does not list shard model-00002-of-00002.safetensors of ${dir}`);
    });

    it('a shard path outside the folder, and an index that is not JSON', async () => {
      const dir = await shardedDir('traversal');
      await rewrite(dir, (index) => {
        index.weight_map.a = '../model.safetensors';
      });
      await expect(loadCheckpoint(dir)).rejects.toThrow('"weight_map"."a" is "../model.safetensors", expected the file name of a .safetensors shard in the same folder');
      await writeFile(indexOf(dir), '{"weight_map": ');
      await expect(loadCheckpoint(dir)).rejects.toThrow(`${indexOf(dir)}: cannot read it as JSON`);
    });

    it('a folder without safetensors weights names what it found', async () => {
      const dir = path.join(tmp, 'bin-only');
      await mkdir(dir);
      await writeFile(path.join(dir, 'pytorch_model.bin'), '');
      await expect(loadCheckpoint(dir)).rejects.toThrow(`${dir}: no model.safetensors or model.safetensors.index.json; found pytorch_model.bin, which @lmflow/models does not read`);
    });
  });
});

describe('parseShardSize', () => {
  it.each([
    [1000, 1000],
    ['5GB', 5e9],
    ['500MB', 5e8],
    ['2GiB', 2 * 2 ** 30],
    ['1.5 kB', 1500],
    ['64', 64],
  ] as [number | string, number][])('%s is %d bytes', (input, bytes) => {
    expect(parseShardSize(input)).toBe(bytes);
  });

  it.each([0, -5, 1.5, '5 parsecs', '', 'GB'])('refuses %j', (input) => {
    expect(() => parseShardSize(input as never)).toThrow(`maxShardSize: ${JSON.stringify(input)} is not a size`);
  });
});

