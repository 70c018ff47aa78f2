/**
 * Writing a file so that readers see the old file or the whole new one, never a partial one: the
 * data goes to a temporary file in the same folder (same file system, so rename is atomic),
 * which is flushed to disk and then renamed over the target. A failure removes the temporary.
 */
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';

export async function writeFileAtomic(file: string, write: (handle: FileHandle) => Promise<void>): Promise<void> {
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
  let handle: FileHandle | null = null;
  try {
    handle = await open(temp, 'wx');
    await write(handle);
    await handle.datasync();
    await handle.close();
    handle = null;
    await rename(temp, file);
  } catch (error) {
    await handle?.close().catch(() => {});
    await rm(temp, { force: true });
    throw error;
  }
}

/** writeFileAtomic for text (JSON files). */
export async function writeTextAtomic(file: string, text: string): Promise<void> {
  await writeFileAtomic(file, async (handle) => {
    await handle.writeFile(text, 'utf8');
  });
}

/** Writes all of data at the handle's current position. */
export async function writeAll(handle: FileHandle, data: Uint8Array): Promise<void> {
  let done = 0;
  while (done < data.length) {
    const { bytesWritten } = await handle.write(data, done, Math.min(data.length - done, 1 << 30));
    done += bytesWritten;
  }
}
