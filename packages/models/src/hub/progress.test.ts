import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { formatBytes, incompleteBytes, terminalProgress } from './progress.js';

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'lmflow-progress-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const stream = (isTTY: boolean) => {
  const written: string[] = [];
  return { written, stream: { isTTY, write: (s: string) => written.push(s) } as unknown as NodeJS.WriteStream };
};

describe('download progress', () => {
  it('draws one redrawn line on a terminal, and ends it with a newline', () => {
    const { written, stream: tty } = stream(true);
    const bar = terminalProgress(tty)!;
    bar.update(0, 2_000_000, 'Downloading org/model');
    bar.update(0, 2_000_000, 'Downloading org/model');
    bar.update(1_500_000, 2_000_000, 'Downloading org/model');
    bar.end();
    expect(written).toEqual([
      '\rDownloading org/model [........................] 0% 0 B / 2.0 MB\x1b[K',
      '\rDownloading org/model [##################......] 75% 1.5 MB / 2.0 MB\x1b[K',
      '\n',
    ]);
  });

  it('stays silent when stderr is not a terminal', () => {
    expect(terminalProgress(stream(false).stream)).toBeNull();
  });

  it('counts the bytes of blobs being downloaded', async () => {
    const repo = path.join(tmp, 'models--a--b');
    expect(incompleteBytes(repo)).toBe(0);
    await mkdir(path.join(repo, 'blobs'), { recursive: true });
    await writeFile(path.join(repo, 'blobs', 'abc.incomplete'), new Uint8Array(1234));
    await writeFile(path.join(repo, 'blobs', 'done'), new Uint8Array(99));
    expect(incompleteBytes(repo)).toBe(1234);
    expect([formatBytes(999), formatBytes(1500), formatBytes(2.5e9)]).toEqual(['999 B', '1.5 kB', '2.50 GB']);
  });
});
