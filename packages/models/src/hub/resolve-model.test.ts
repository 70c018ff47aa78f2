/**
 * Models by hub id without a network: the cache location from the environment, loading a
 * cached snapshot offline, the error for a model that is not cached, and the download path
 * through @huggingface/hub against a fake hub (a fetch function serving stories260K's files).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { lstat, mkdir, mkdtemp, readFile, readdir, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { tensor, argmax } from '@lmflow/tensor';
import { cachedSnapshot, hubCacheDir, isHubOffline, loadModel, resolveModelPath, type HubOptions, type ProgressSink } from '../index.js';
import { stories260K } from '../test-support/paths.js';

const REPO = 'lmflow-test/stories260K';
const COMMIT = 'a'.repeat(39) + '1';
const FILES = ['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json'];
const GOLDEN_START = [1, 403, 407, 261, 378];

let tmp: string;
const savedEnv = { ...process.env };

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'lmflow-hub-'));
});

afterEach(() => {
  for (const key of ['HF_HUB_CACHE', 'HUGGINGFACE_HUB_CACHE', 'HF_HOME', 'XDG_CACHE_HOME', 'HF_HUB_OFFLINE', 'TRANSFORMERS_OFFLINE']) {
    if (savedEnv[key] === undefined) delete process.env[key];
    else process.env[key] = savedEnv[key];
  }
});

afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** Lays stories260K out as huggingface_hub does: blobs by hash, snapshot links, refs/main. */
async function buildCache(cacheDir: string, refs: Record<string, string> = { main: COMMIT }): Promise<string> {
  const repoDir = path.join(cacheDir, 'models--lmflow-test--stories260K');
  const snapshot = path.join(repoDir, 'snapshots', COMMIT);
  await mkdir(path.join(repoDir, 'blobs'), { recursive: true });
  await mkdir(snapshot, { recursive: true });
  for (const file of FILES) {
    const bytes = await readFile(path.join(stories260K, file));
    const blob = createHash('sha256').update(bytes).digest('hex');
    await writeFile(path.join(repoDir, 'blobs', blob), bytes);
    await symlink(path.join('..', '..', 'blobs', blob), path.join(snapshot, file));
  }
  await mkdir(path.join(repoDir, 'refs'), { recursive: true });
  for (const [ref, commit] of Object.entries(refs)) await writeFile(path.join(repoDir, 'refs', ref), commit);
  return snapshot;
}

async function greedyStart(pathOrId: string, hub: HubOptions | undefined): Promise<number[]> {
  const model = await loadModel(pathOrId, { device: 'cpu', hub });
  const ids = [1];
  for (let i = 0; i < 4; i++) {
    const logits = model.forward(tensor([ids], { dtype: 'i32' }));
    ids.push(argmax(logits.select(1, ids.length - 1), -1).toFlatArray()[0]!);
  }
  model.dispose();
  return ids;
}

describe('cache location', () => {
  it('follows HF_HUB_CACHE, HUGGINGFACE_HUB_CACHE, HF_HOME, XDG_CACHE_HOME, then ~/.cache, as huggingface_hub does', () => {
    const home = os.homedir();
    expect(hubCacheDir({})).toBe(path.join(home, '.cache', 'huggingface', 'hub'));
    expect(hubCacheDir({ XDG_CACHE_HOME: '/xdg' })).toBe('/xdg/huggingface/hub');
    expect(hubCacheDir({ XDG_CACHE_HOME: '/xdg', HF_HOME: '~/hf' })).toBe(path.join(home, 'hf', 'hub'));
    expect(hubCacheDir({ HF_HOME: '/hf', HUGGINGFACE_HUB_CACHE: '/legacy' })).toBe('/legacy');
    expect(hubCacheDir({ HF_HOME: '/hf', HUGGINGFACE_HUB_CACHE: '/legacy', HF_HUB_CACHE: '/cache' })).toBe('/cache');
  });

  it('reads HF_HUB_OFFLINE and TRANSFORMERS_OFFLINE', () => {
    expect(isHubOffline({})).toBe(false);
    expect(isHubOffline({ HF_HUB_OFFLINE: '0' })).toBe(false);
    for (const v of ['1', 'true', 'YES', 'on']) expect(isHubOffline({ HF_HUB_OFFLINE: v })).toBe(true);
    expect(isHubOffline({ TRANSFORMERS_OFFLINE: '1' })).toBe(true);
  });

  it('finds a snapshot by branch (refs/<branch>) or commit, and nothing for an unknown revision', async () => {
    const cacheDir = path.join(tmp, 'lookup');
    const snapshot = await buildCache(cacheDir, { main: COMMIT, v1: COMMIT });
    expect(cachedSnapshot(REPO, 'main', cacheDir)).toBe(snapshot);
    expect(cachedSnapshot(REPO, 'v1', cacheDir)).toBe(snapshot);
    expect(cachedSnapshot(REPO, COMMIT, cacheDir)).toBe(snapshot);
    expect(cachedSnapshot(REPO, 'dev', cacheDir)).toBeNull();
    expect(cachedSnapshot('lmflow-test/other', 'main', cacheDir)).toBeNull();
  });
});

describe('offline loading from the cache', () => {
  it('loads a cached model by id with HF_HUB_OFFLINE=1, the cache found through HF_HOME', async () => {
    const home = path.join(tmp, 'hf-home');
    await buildCache(path.join(home, 'hub'));
    process.env.HF_HOME = home;
    process.env.HF_HUB_OFFLINE = '1';
    expect(await greedyStart(REPO, undefined)).toEqual(GOLDEN_START);
    expect(await resolveModelPath(REPO)).toBe(path.join(home, 'hub', 'models--lmflow-test--stories260K', 'snapshots', COMMIT));
  });

  it('loads a pinned commit offline', async () => {
    const cacheDir = path.join(tmp, 'pinned');
    await buildCache(cacheDir, {});
    expect(await greedyStart(REPO, { cacheDir, offline: true, revision: COMMIT })).toEqual(GOLDEN_START);
  });

  it('a model that is not cached, offline, is a clear error', async () => {
    const cacheDir = path.join(tmp, 'empty-cache');
    process.env.HF_HUB_OFFLINE = '1';
    await expect(loadModel('lmflow-test/missing', { hub: { cacheDir } })).rejects.toThrow(
      `lmflow-test/missing: not a local folder, and not in the Hugging Face cache at ${cacheDir} (no models--lmflow-test--missing/refs/main with a snapshot holding config.json); the hub is offline (HF_HUB_OFFLINE)`,
    );
  });

  it('refuses paths that are neither folders nor hub ids', async () => {
    await expect(resolveModelPath('./no/such/model')).rejects.toThrow('./no/such/model: no such folder, and not a Hugging Face model id ("org/name")');
    await expect(resolveModelPath('a/b/c')).rejects.toThrow('a/b/c: no such folder, and not a Hugging Face model id');
    await expect(resolveModelPath(path.join(stories260K, 'config.json'))).rejects.toThrow('is a file; expected a model folder');
    await expect(resolveModelPath('')).rejects.toThrow('model path or id must be a non-empty string');
  });
});

/**
 * A fake Hugging Face Hub: answers the requests @huggingface/hub makes for model info, the file
 * tree, paths-info and file downloads (ranged probes and full bodies), from stories260K.
 */
function fakeHub(files: Record<string, Buffer>, requests: string[]): typeof fetch {
  const oid = (bytes: Buffer) => createHash('sha1').update(bytes).digest('hex');
  const base = `/api/models/${REPO}`;
  return (async (input: string | URL | Request, init?: RequestInit) => {
    const url = new URL(String(input));
    const method = init?.method ?? 'GET';
    requests.push(`${method} ${url.pathname}`);
    const json = (body: unknown) => new Response(JSON.stringify(body), { headers: { 'content-type': 'application/json' } });
    if (url.pathname.startsWith(`${base}/revision/`)) {
      return json({ _id: 'x', id: REPO, sha: COMMIT, private: false, downloads: 0, likes: 0, lastModified: '2024-01-01T00:00:00.000Z' });
    }
    if (url.pathname === `${base}/tree/${COMMIT}`) {
      return json(Object.entries(files).map(([p, bytes]) => ({ type: 'file', path: p, size: bytes.length, oid: oid(bytes) })));
    }
    if (url.pathname === `${base}/paths-info/${COMMIT}` && method === 'POST') {
      const { paths } = JSON.parse(String(init!.body)) as { paths: string[] };
      return json(paths.map((p) => ({ type: 'file', path: p, size: files[p]!.length, oid: oid(files[p]!), lastCommit: { id: COMMIT, title: 'init', date: '2024-01-01' } })));
    }
    const resolve = `/${REPO}/resolve/${COMMIT}/`;
    if (url.pathname.startsWith(resolve)) {
      const bytes = files[url.pathname.slice(resolve.length)];
      if (!bytes) return new Response('not found', { status: 404, headers: { 'X-Error-Code': 'EntryNotFound' } });
      const range = new Headers(init?.headers).get('Range');
      const etag = `"${oid(bytes)}"`;
      if (range === 'bytes=0-0') return new Response(bytes.subarray(0, 1), { status: 206, headers: { 'content-range': `bytes 0-0/${bytes.length}`, etag } });
      return new Response(bytes, { headers: { 'content-length': String(bytes.length), etag } });
    }
    return new Response(`unexpected ${method} ${url.pathname}`, { status: 500 });
  }) as typeof fetch;
}

describe('download through @huggingface/hub (fake hub)', () => {
  it('downloads the files a model needs into the cache layout, then loads offline', async () => {
    const files: Record<string, Buffer> = { 'README.md': Buffer.from('# stories'), 'pytorch_model.bin': Buffer.from('not wanted') };
    for (const f of FILES) files[f] = await readFile(path.join(stories260K, f));
    const requests: string[] = [];
    const cacheDir = path.join(tmp, 'downloaded');
    const updates: [number, number][] = [];
    const progress: ProgressSink = { update: (done, total) => updates.push([done, total]), end: () => updates.push([-1, -1]) };
    const hub = { cacheDir, hubUrl: 'https://hub.test', fetch: fakeHub(files, requests), progress };
    const snapshot = await resolveModelPath(REPO, hub);

    const repoDir = path.join(cacheDir, 'models--lmflow-test--stories260K');
    expect(snapshot).toBe(path.join(repoDir, 'snapshots', COMMIT));
    expect(await readFile(path.join(repoDir, 'refs', 'main'), 'utf8')).toBe(COMMIT);
    expect((await readdir(snapshot)).sort()).toEqual([...FILES].sort());
    // Snapshot entries link to blobs/, as in Python's cache.
    const link = path.join(snapshot, 'model.safetensors');
    expect((await lstat(link)).isSymbolicLink()).toBe(true);
    expect(await readlink(link)).toMatch(/^\.\.\/\.\.\/blobs\/[0-9a-f]{40}$/);
    expect((await readFile(link)).equals(files['model.safetensors']!)).toBe(true);
    expect(requests.some((r) => r.includes('pytorch_model.bin') || r.includes('README.md'))).toBe(false);
    const total = FILES.reduce((s, f) => s + files[f]!.length, 0);
    expect(updates.at(-2)).toEqual([total, total]);
    expect(updates.at(-1)).toEqual([-1, -1]);

    // Cached: offline loads need no hub at all.
    expect(await greedyStart(REPO, { cacheDir, offline: true })).toEqual(GOLDEN_START);
  });

  it('falls back to the cache when the hub is unreachable, and says so', async () => {
    const cacheDir = path.join(tmp, 'unreachable');
    const snapshot = await buildCache(cacheDir);
    const unreachable = (async () => {
      throw new TypeError('fetch failed');
    }) as typeof fetch;
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarning);
    try {
      expect(await resolveModelPath(REPO, { cacheDir, fetch: unreachable, progress: false })).toBe(snapshot);
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.join('\n')).toContain(`${REPO}: the hub is unreachable (fetch failed); using the cached snapshot ${snapshot}`);
    await expect(resolveModelPath('lmflow-test/other', { cacheDir, fetch: unreachable, progress: false })).rejects.toThrow(
      'lmflow-test/other: cannot download it from the Hugging Face Hub: fetch failed',
    );
  });

  it('refuses a repository without safetensors weights before downloading them', async () => {
    const files = { 'config.json': await readFile(path.join(stories260K, 'config.json')), 'pytorch_model.bin': Buffer.from('x') };
    const requests: string[] = [];
    await expect(resolveModelPath(REPO, { cacheDir: path.join(tmp, 'bin'), hubUrl: 'https://hub.test', fetch: fakeHub(files, requests), progress: false })).rejects.toThrow(
      'has no model.safetensors or model.safetensors.index.json; its weights (pytorch_model.bin) are in formats @lmflow/models does not read',
    );
    expect(requests.some((r) => r.includes('/resolve/'))).toBe(false);
  });
});
