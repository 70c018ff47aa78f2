/**
 * Writing a dataset as one LMFlow JSON file, atomically: the file is written next to its
 * destination under a temporary name, then renamed, so a reader never sees half a file and an
 * interrupted write leaves the old file in place. One instance per line keeps large files
 * diffable and avoids building one giant string.
 */
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Dataset } from '@lmflow/core';
import { DatasetError } from './dataset-error.js';

export async function writeDataset(dataset: Dataset, outputPath: string): Promise<void> {
  const existing = await stat(outputPath).catch(() => undefined);
  if (existing?.isDirectory()) {
    throw new DatasetError({ file: outputPath }, `is a folder; give the file to write, e.g. ${join(outputPath, 'train.json')}`);
  }
  const folder = dirname(outputPath);
  await mkdir(folder, { recursive: true });
  const temporary = join(folder, `.${basename(outputPath)}.${process.pid}.${Date.now()}.tmp`);
  const handle = await open(temporary, 'w');
  try {
    let chunk = `{\n  "type": ${JSON.stringify(dataset.type)},\n  "instances": [`;
    const n = dataset.instances.length;
    for (let i = 0; i < n; i++) {
      chunk += `${i === 0 ? '' : ','}\n    ${JSON.stringify(dataset.instances[i])}`;
      if (chunk.length > 1 << 20) {
        await handle.write(chunk);
        chunk = '';
      }
    }
    chunk += `${n === 0 ? '' : '\n  '}]\n}\n`;
    await handle.write(chunk);
    await handle.sync();
    await handle.close();
    await rename(temporary, outputPath);
  } catch (error) {
    await handle.close().catch(() => undefined);
    await rm(temporary, { force: true });
    throw new DatasetError({ file: outputPath }, `cannot write: ${(error as Error).message}`, { cause: error });
  }
}
