/**
 * A one-line download progress display for terminals. Written by hand: it is one status line
 * redrawn with "\r", which needs no dependency. The byte count comes from the files being
 * written (the hub client's "*.incomplete" blobs), so it is right for plain and xet downloads.
 */
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';

export interface ProgressSink {
  /** Called with the bytes done and the total, a few times a second and at the end. */
  update(done: number, total: number, label: string): void;
  end(): void;
}

/** A progress line on stderr when it is a terminal; null otherwise. */
export function terminalProgress(stream: NodeJS.WriteStream = process.stderr): ProgressSink | null {
  if (!stream.isTTY) return null;
  let last = '';
  return {
    update(done, total, label) {
      const percent = total > 0 ? Math.min(100, Math.floor((done / total) * 100)) : 0;
      const width = 24;
      const filled = Math.round((percent / 100) * width);
      const line = `${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${percent}% ${formatBytes(done)} / ${formatBytes(total)}`;
      if (line !== last) stream.write(`\r${line}\x1b[K`);
      last = line;
    },
    end() {
      if (last) stream.write('\n');
    },
  };
}

/** Bytes in the blob files being downloaded under a repository's cache folder. */
export function incompleteBytes(repoDir: string): number {
  let bytes = 0;
  try {
    const blobs = path.join(repoDir, 'blobs');
    for (const name of readdirSync(blobs)) if (name.endsWith('.incomplete')) bytes += statSync(path.join(blobs, name)).size;
  } catch {
    // No blobs folder yet.
  }
  return bytes;
}

export function formatBytes(n: number): string {
  if (n < 1e3) return `${n} B`;
  if (n < 1e6) return `${(n / 1e3).toFixed(1)} kB`;
  if (n < 1e9) return `${(n / 1e6).toFixed(1)} MB`;
  return `${(n / 1e9).toFixed(2)} GB`;
}
