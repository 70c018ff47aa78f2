/**
 * A model folder's weights: one `model.safetensors`, or shards listed by
 * `model.safetensors.index.json` ({ metadata: { total_size }, weight_map: { name: file } }),
 * named `model-00001-of-00003.safetensors` as transformers names them.
 */
import { readFile, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Tensor } from '@lmflow/tensor';
import { loadSafetensors, readSafetensorsHeader, type LoadSafetensorsOptions } from './read.js';
import { saveSafetensors, tensorBytes } from './write.js';
import { writeTextAtomic } from '../util/atomic-write.js';

export const SAFETENSORS_FILE = 'model.safetensors';
export const SAFETENSORS_INDEX_FILE = 'model.safetensors.index.json';
/** transformers' default largest shard. */
export const DEFAULT_MAX_SHARD_SIZE = '5GB';

const SHARD_NAME = /^model-\d{5}-of-\d{5}\.safetensors$/;

export interface ShardIndex {
  /** "metadata" of the index, as read ("total_size", ...). */
  readonly metadata: Readonly<Record<string, unknown>>;
  /** Tensor name to shard file name (in the index's folder). */
  readonly weightMap: ReadonlyMap<string, string>;
}

/** Reads and checks model.safetensors.index.json. */
export async function readShardIndex(file: string): Promise<ShardIndex> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    throw new Error(`${file}: cannot read it as JSON (${(error as Error).message})`, { cause: error });
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error(`${file}: expected a JSON object with "weight_map"`);
  const { metadata = {}, weight_map: weightMap } = json as Record<string, unknown>;
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) {
    throw new Error(`${file}: "metadata" must be an object, got ${JSON.stringify(metadata)}`);
  }
  if (typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap)) {
    throw new Error(`${file}: "weight_map" must be an object mapping tensor names to shard files, got ${JSON.stringify(weightMap) ?? 'nothing'}`);
  }
  const map = new Map<string, string>();
  for (const [name, shard] of Object.entries(weightMap)) {
    if (typeof shard !== 'string' || !shard.endsWith('.safetensors') || shard !== path.basename(shard) || shard.startsWith('.')) {
      throw new Error(`${file}: "weight_map"."${name}" is ${JSON.stringify(shard)}, expected the file name of a .safetensors shard in the same folder`);
    }
    map.set(name, shard);
  }
  if (map.size === 0) throw new Error(`${file}: "weight_map" lists no tensors`);
  return { metadata: metadata as Record<string, unknown>, weightMap: map };
}

export interface LoadedCheckpoint {
  tensors: Map<string, Tensor>;
  /** The files read, in order. */
  files: string[];
}

/** Loads every tensor of a model folder's safetensors weights (single file or sharded). */
export async function loadCheckpoint(dir: string, options: LoadSafetensorsOptions = {}): Promise<LoadedCheckpoint> {
  const weightFiles = await findWeightFiles(dir);
  const tensors = new Map<string, Tensor>();
  try {
    for (const { file, names } of weightFiles) {
      const { tensors: loaded } = await loadSafetensors(file, { ...options, names });
      for (const [name, t] of loaded) {
        if (tensors.has(name)) {
          t.dispose();
          throw new Error(`${file}: tensor "${name}" is also in another shard of ${dir}`);
        }
        tensors.set(name, t);
      }
    }
  } catch (error) {
    for (const t of tensors.values()) t.dispose();
    throw error;
  }
  return { tensors, files: weightFiles.map((w) => w.file) };
}

/**
 * The weight files of a folder and the tensors to read from each, after checking that every
 * shard holds exactly the tensors the index maps to it (nothing missing, nothing unlisted).
 */
export async function findWeightFiles(dir: string): Promise<{ file: string; names?: string[] }[]> {
  const present = await listDir(dir);
  if (present.has(SAFETENSORS_INDEX_FILE)) {
    const indexFile = path.join(dir, SAFETENSORS_INDEX_FILE);
    const index = await readShardIndex(indexFile);
    const byShard = new Map<string, string[]>();
    for (const [name, shard] of index.weightMap) byShard.set(shard, [...(byShard.get(shard) ?? []), name]);
    const result: { file: string; names: string[] }[] = [];
    for (const [shard, names] of byShard) {
      const file = path.join(dir, shard);
      if (!present.has(shard)) throw new Error(`${indexFile}: shard ${shard} (holding "${names[0]}") is not in ${dir}`);
      const header = await readSafetensorsHeader(file);
      const inFile = new Set(header.entries.map((e) => e.name));
      const missing = names.find((n) => !inFile.has(n));
      if (missing) throw new Error(`${indexFile}: maps "${missing}" to ${shard}, but that file has no such tensor`);
      const listed = new Set(names);
      const unlisted = header.entries.find((e) => !listed.has(e.name));
      if (unlisted) {
        const other = index.weightMap.get(unlisted.name);
        throw new Error(
          `${file}: holds tensor "${unlisted.name}", which ${SAFETENSORS_INDEX_FILE} ${other ? `maps to ${other}` : 'does not list'}`,
        );
      }
      result.push({ file, names });
    }
    // A shard the index forgets would be silently skipped.
    const unreferenced = [...present].filter((f) => SHARD_NAME.test(f) && !byShard.has(f));
    if (unreferenced.length > 0) {
      throw new Error(`${indexFile}: does not list shard ${unreferenced.join(', ')} of ${dir} (an incomplete index, or a shard left from another save)`);
    }
    return result;
  }
  if (present.has(SAFETENSORS_FILE)) return [{ file: path.join(dir, SAFETENSORS_FILE) }];
  const others = [...present].filter((f) => /\.(bin|pt|pth|ckpt|gguf|h5|msgpack)$/.test(f));
  throw new Error(
    `${dir}: no ${SAFETENSORS_FILE} or ${SAFETENSORS_INDEX_FILE}` +
      (others.length > 0
        ? `; found ${others.join(', ')}, which @lmflow/models does not read (convert to safetensors, e.g. with transformers: model.save_pretrained(dir, safe_serialization=True))`
        : ''),
  );
}

export interface SaveCheckpointOptions {
  /**
   * Largest shard: bytes, or a size such as "5GB" or "500MiB" (GB = 10^9 bytes as in
   * transformers, GiB = 2^30). One file when everything fits. @default "5GB"
   */
  maxShardSize?: number | string;
  /** "__metadata__" of every file. @default { format: "pt" } (what transformers expects) */
  metadata?: Readonly<Record<string, string>>;
}

/**
 * Writes tensors as a folder's weights: model.safetensors, or shards plus the index when they
 * exceed maxShardSize. Weight files of an earlier save that this one does not rewrite are
 * removed, so the folder never mixes two checkpoints. Returns the file names written.
 */
export async function saveCheckpoint(dir: string, tensors: ReadonlyMap<string, Tensor>, options: SaveCheckpointOptions = {}): Promise<string[]> {
  const maxBytes = parseShardSize(options.maxShardSize ?? DEFAULT_MAX_SHARD_SIZE);
  const metadata = options.metadata ?? { format: 'pt' };
  const shards = splitIntoShards(tensors, maxBytes);
  const written: string[] = [];
  if (shards.length === 1) {
    await saveSafetensors(path.join(dir, SAFETENSORS_FILE), shards[0]!, { metadata });
    written.push(SAFETENSORS_FILE);
  } else {
    const weightMap: Record<string, string> = {};
    let totalSize = 0;
    for (const [i, shard] of shards.entries()) {
      const name = `model-${String(i + 1).padStart(5, '0')}-of-${String(shards.length).padStart(5, '0')}.safetensors`;
      await saveSafetensors(path.join(dir, name), shard, { metadata });
      for (const [tensorName, t] of shard) {
        weightMap[tensorName] = name;
        totalSize += tensorBytes(t);
      }
      written.push(name);
    }
    const sorted = Object.fromEntries(Object.entries(weightMap).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    await writeTextAtomic(path.join(dir, SAFETENSORS_INDEX_FILE), `${JSON.stringify({ metadata: { total_size: totalSize }, weight_map: sorted }, null, 2)}\n`);
    written.push(SAFETENSORS_INDEX_FILE);
  }
  for (const file of await listDir(dir)) {
    const stale = file === SAFETENSORS_FILE || file === SAFETENSORS_INDEX_FILE || SHARD_NAME.test(file);
    if (stale && !written.includes(file)) await rm(path.join(dir, file), { force: true });
  }
  return written;
}

/**
 * Splits tensors, in their order, into shards of at most maxBytes as transformers does: a
 * tensor that would overflow the current shard starts the next one; a tensor larger than
 * maxBytes gets a shard of its own.
 */
export function splitIntoShards(tensors: ReadonlyMap<string, Tensor>, maxBytes: number): Map<string, Tensor>[] {
  const shards: Map<string, Tensor>[] = [];
  let current = new Map<string, Tensor>();
  let currentBytes = 0;
  for (const [name, t] of tensors) {
    const bytes = tensorBytes(t);
    if (current.size > 0 && currentBytes + bytes > maxBytes) {
      shards.push(current);
      current = new Map();
      currentBytes = 0;
    }
    current.set(name, t);
    currentBytes += bytes;
  }
  if (current.size > 0 || shards.length === 0) shards.push(current);
  return shards;
}

const UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
};

/** Bytes of a shard size given as a number or "5GB", "200MB", "1.5GiB", ... */
export function parseShardSize(value: number | string): number {
  if (typeof value === 'number') {
    if (Number.isSafeInteger(value) && value > 0) return value;
  } else {
    const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]+)?\s*$/i.exec(value);
    const unit = UNITS[(match?.[2] ?? 'b').toLowerCase()];
    if (match && unit) {
      const bytes = Math.floor(Number(match[1]) * unit);
      if (bytes > 0) return bytes;
    }
  }
  throw new Error(`maxShardSize: ${JSON.stringify(value)} is not a size; expected a positive number of bytes or a string such as "5GB", "500MB" or "2GiB"`);
}

async function listDir(dir: string): Promise<Set<string>> {
  try {
    return new Set(await readdir(dir));
  } catch (error) {
    throw new Error(`${dir}: cannot list the model folder (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`, { cause: error });
  }
}
