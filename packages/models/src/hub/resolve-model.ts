/**
 * From what a user passes as `model_name_or_path` to a local folder: the folder itself, or the
 * Hugging Face cache snapshot of a hub id, downloaded first unless it is cached and the hub is
 * offline (HF_HUB_OFFLINE=1) or unreachable.
 */
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { cachedSnapshot, hubCacheDir, isHubOffline, repoFolderName } from './cache-paths.js';
import { downloadModel } from './download.js';
import { terminalProgress, type ProgressSink } from './progress.js';

export interface HubOptions {
  /** Branch, tag or commit. @default "main" */
  revision?: string;
  /** @default HF_HUB_CACHE, HF_HOME/hub or ~/.cache/huggingface/hub */
  cacheDir?: string;
  /** Use only the cache, never the network. @default HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) is set */
  offline?: boolean;
  /** @default HF_TOKEN */
  accessToken?: string;
  /** @default HF_ENDPOINT or https://huggingface.co */
  hubUrl?: string;
  /** Replaces global fetch for hub requests (proxies, tests). */
  fetch?: typeof fetch;
  /** Download progress; false for none. @default a progress line when stderr is a terminal */
  progress?: ProgressSink | false;
}

// Hugging Face repository ids: "name" or "org/name" of letters, digits, "-", "_" and ".".
const REPO_ID = /^(?:[A-Za-z0-9][\w.-]{0,95}\/)?[A-Za-z0-9][\w.-]{0,95}$/;

/** The local folder of a model given as a folder path or a hub id. */
export async function resolveModelPath(pathOrId: string, options: HubOptions = {}): Promise<string> {
  if (typeof pathOrId !== 'string' || pathOrId.trim() === '') throw new Error(`model path or id must be a non-empty string, got ${JSON.stringify(pathOrId)}`);
  if (existsSync(pathOrId)) {
    if (!statSync(pathOrId).isDirectory()) throw new Error(`${pathOrId}: is a file; expected a model folder (config.json, model.safetensors, ...) or a Hugging Face model id`);
    return path.resolve(pathOrId);
  }
  const looksLikePath = pathOrId.startsWith('.') || pathOrId.startsWith('/') || pathOrId.startsWith('~') || pathOrId.includes('\\') || pathOrId.split('/').length > 2;
  if (looksLikePath || !REPO_ID.test(pathOrId) || pathOrId.includes('..') || pathOrId.includes('--')) {
    throw new Error(`${pathOrId}: no such folder, and not a Hugging Face model id ("org/name")`);
  }
  const revision = options.revision ?? 'main';
  const cacheDir = options.cacheDir ?? hubCacheDir();
  const cached = cachedSnapshot(pathOrId, revision, cacheDir);
  const offline = options.offline ?? isHubOffline();
  if (offline) {
    if (cached) return cached;
    throw new Error(
      `${pathOrId}: not a local folder, and not in the Hugging Face cache at ${cacheDir} (no ${path.join(repoFolderName(pathOrId), 'refs', revision)} ` +
        'with a snapshot holding config.json); the hub is offline (HF_HUB_OFFLINE), so it cannot be downloaded. ' +
        'Download it once with network access, or give a local folder.',
    );
  }
  try {
    return await downloadModel(pathOrId, {
      revision,
      cacheDir,
      hubUrl: options.hubUrl,
      accessToken: options.accessToken,
      fetch: options.fetch,
      progress: options.progress === false ? null : (options.progress ?? terminalProgress()),
    });
  } catch (error) {
    if (cached && isNetworkError(error)) {
      process.emitWarning(`${pathOrId}: the hub is unreachable (${(error as Error).message}); using the cached snapshot ${cached}`, { code: 'LMFLOW_HUB_UNREACHABLE' });
      return cached;
    }
    throw new Error(`${pathOrId}: cannot download it from the Hugging Face Hub: ${(error as Error).message}`, { cause: error });
  }
}

/** fetch() rejects with a TypeError ("fetch failed") when no connection can be made. */
function isNetworkError(error: unknown): boolean {
  if (error instanceof TypeError) return true;
  const code = (error as { cause?: { code?: string } })?.cause?.code;
  return typeof code === 'string' && ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNRESET', 'ETIMEDOUT', 'ENETUNREACH'].includes(code);
}
