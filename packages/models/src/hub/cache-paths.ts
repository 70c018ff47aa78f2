/**
 * Where the Hugging Face cache is and what it holds, as huggingface_hub lays it out:
 *
 *   <cache>/models--org--name/refs/main                    the commit "main" points to
 *   <cache>/models--org--name/snapshots/<commit>/<file>    links into blobs/
 *   <cache>/models--org--name/blobs/<etag>                 the file contents
 *
 * <cache> is HF_HUB_CACHE, else HUGGINGFACE_HUB_CACHE, else HF_HOME/hub, else
 * XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub: the folder Python uses, so
 * models downloaded by either are shared.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export function hubCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const explicit = env.HF_HUB_CACHE ?? env.HUGGINGFACE_HUB_CACHE;
  if (explicit) return expandHome(explicit);
  const home = env.HF_HOME ? expandHome(env.HF_HOME) : path.join(env.XDG_CACHE_HOME ? expandHome(env.XDG_CACHE_HOME) : path.join(os.homedir(), '.cache'), 'huggingface');
  return path.join(home, 'hub');
}

/** HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) set to 1 / true / yes / on. */
export function isHubOffline(env: NodeJS.ProcessEnv = process.env): boolean {
  return [env.HF_HUB_OFFLINE, env.TRANSFORMERS_OFFLINE].some((v) => v !== undefined && ['1', 'true', 'yes', 'on'].includes(v.trim().toLowerCase()));
}

/** "models--org--name" for "org/name". */
export function repoFolderName(repoId: string): string {
  return ['models', ...repoId.split('/')].join('--');
}

export const COMMIT_HASH = /^[0-9a-f]{40}$/;

/**
 * The snapshot folder of repoId at revision (a branch, tag or commit) in the cache, or null
 * when the cache has no complete entry for it (no ref, or no config.json in the snapshot).
 */
export function cachedSnapshot(repoId: string, revision: string, cacheDir: string): string | null {
  const repoDir = path.join(cacheDir, repoFolderName(repoId));
  let commit = revision;
  if (!COMMIT_HASH.test(revision)) {
    const ref = path.join(repoDir, 'refs', revision);
    if (!existsSync(ref)) return null;
    commit = readFileSync(ref, 'utf8').trim();
  }
  const snapshot = path.join(repoDir, 'snapshots', commit);
  return existsSync(path.join(snapshot, 'config.json')) && statSync(snapshot).isDirectory() ? snapshot : null;
}

function expandHome(p: string): string {
  return p === '~' || p.startsWith('~/') ? path.join(os.homedir(), p.slice(1)) : p;
}
