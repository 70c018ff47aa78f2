/**
 * Downloading a model from the Hugging Face Hub into the cache with @huggingface/hub: the
 * revision is resolved to a commit (written to refs/<revision>), then the files a model needs
 * (config, safetensors weights, tokenizer and generation files; never PyTorch .bin weights or
 * other formats) are fetched into blobs/ and linked from snapshots/<commit>/.
 */
import { readFile, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { downloadFileToCacheDir, listFiles, modelInfo } from '@huggingface/hub';
import { COMMIT_HASH, repoFolderName } from './cache-paths.js';
import { incompleteBytes, type ProgressSink } from './progress.js';

/** Files copied with a model besides its weights (tokenizer, generation settings, templates). */
export const MODEL_SIDE_FILES: readonly string[] = Object.freeze([
  'generation_config.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'tokenizer.model',
  'vocab.json',
  'merges.txt',
  'added_tokens.json',
  'chat_template.jinja',
  'chat_template.json',
]);

export interface DownloadOptions {
  revision: string;
  cacheDir: string;
  /** Hub address. @default HF_ENDPOINT or https://huggingface.co */
  hubUrl?: string;
  /** @default HF_TOKEN */
  accessToken?: string;
  /** Replaces global fetch (proxies, tests). */
  fetch?: typeof fetch;
  progress?: ProgressSink | null;
}

/** Downloads what loadModel needs of repoId at a revision; returns the snapshot folder. */
export async function downloadModel(repoId: string, options: DownloadOptions): Promise<string> {
  const { cacheDir, revision } = options;
  const hub = {
    hubUrl: options.hubUrl ?? process.env.HF_ENDPOINT,
    accessToken: options.accessToken ?? process.env.HF_TOKEN,
    fetch: options.fetch,
  };
  const repo = { type: 'model' as const, name: repoId };
  const repoDir = path.join(cacheDir, repoFolderName(repoId));

  const commit = COMMIT_HASH.test(revision) ? revision : (await modelInfo({ ...hub, name: repoId, revision, additionalFields: ['sha'] })).sha;
  if (typeof commit !== 'string' || !COMMIT_HASH.test(commit)) throw new Error(`hub: ${repoId}@${revision} resolved to no commit (got ${JSON.stringify(commit)})`);

  const sizes = new Map<string, number>();
  for await (const entry of listFiles({ ...hub, repo, revision: commit })) {
    if (entry.type === 'file') sizes.set(entry.path, entry.lfs?.size ?? entry.size);
  }
  const hasIndex = sizes.has('model.safetensors.index.json');
  if (!sizes.has('config.json')) throw new Error(`hub: ${repoId}@${revision} has no config.json at its top level; it is not a transformers model repository`);
  if (!hasIndex && !sizes.has('model.safetensors')) {
    const others = [...sizes.keys()].filter((f) => /\.(bin|pt|pth|gguf|h5|msgpack)$/.test(f));
    throw new Error(
      `hub: ${repoId}@${revision} has no model.safetensors or model.safetensors.index.json` +
        (others.length > 0 ? `; its weights (${others.slice(0, 3).join(', ')}) are in formats @lmflow/models does not read` : ''),
    );
  }

  const fetchFile = (file: string) => downloadFileToCacheDir({ ...hub, repo, path: file, revision: commit, cacheDir });
  const snapshot = path.join(repoDir, 'snapshots', commit);
  const files = ['config.json', ...MODEL_SIDE_FILES.filter((f) => sizes.has(f))];
  if (hasIndex) {
    const index = JSON.parse(await readFile(await fetchFile('model.safetensors.index.json'), 'utf8')) as { weight_map?: Record<string, string> };
    const shards = new Set(Object.values(index.weight_map ?? {}));
    for (const shard of shards) {
      if (!sizes.has(shard)) throw new Error(`hub: ${repoId}@${revision}: model.safetensors.index.json names shard ${shard}, which the repository does not have`);
    }
    files.push(...shards);
  } else {
    files.push('model.safetensors');
  }

  const total = files.reduce((sum, f) => sum + (sizes.get(f) ?? 0), 0);
  let done = 0;
  const label = `Downloading ${repoId}`;
  const progress = options.progress ?? null;
  const timer = progress ? setInterval(() => progress.update(done + incompleteBytes(repoDir), total, label), 250) : null;
  try {
    for (const file of files) {
      await fetchFile(file);
      done += sizes.get(file) ?? 0;
      progress?.update(done, total, label);
    }
  } finally {
    if (timer) clearInterval(timer);
    progress?.end();
  }

  if (revision !== commit) {
    // Written last: an interrupted download leaves no ref, so offline loads never see half a model.
    const ref = path.join(repoDir, 'refs', revision);
    await mkdir(path.dirname(ref), { recursive: true });
    await writeFile(ref, commit);
  }
  return snapshot;
}
