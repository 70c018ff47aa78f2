import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Dataset } from '@lmflow/core';
import { loadDataset } from './load-dataset.js';
import { writeDataset } from './write-dataset.js';
import { tempFolder } from '../test-fixtures.js';

describe('writeDataset', () => {
  it('writes LMFlow JSON that loads back to the same instances (unicode, newlines, quotes)', async () => {
    const dataset: Dataset = {
      type: 'conversation',
      instances: [
        { system: 'Be brief.', messages: [{ role: 'user', content: 'Ça va ? "quoted"\nline 2' }, { role: 'assistant', content: '🙂 日本語' }] },
        { messages: [{ role: 'user', content: '' }] },
      ],
      origins: [{ file: 'x', index: 0 }, { file: 'x', index: 1 }],
    };
    const dir = tempFolder();
    const out = join(dir, 'sub/folder/train.json');
    await writeDataset(dataset, out);
    const text = readFileSync(out, 'utf8');
    expect(JSON.parse(text)).toEqual({ type: 'conversation', instances: dataset.instances });
    // One instance per line, under a readable header.
    expect(text.split('\n').slice(0, 3)).toEqual(['{', '  "type": "conversation",', '  "instances": [']);
    expect(text.split('\n')).toHaveLength(8); // 3 header lines, 2 instances, 2 closing lines, the final newline
    const again = await loadDataset(out);
    expect(again.instances).toEqual(dataset.instances);
    expect(readdirSync(join(dir, 'sub/folder'))).toEqual(['train.json']);
  });

  it('replaces an existing file whole, and refuses a folder as the output', async () => {
    const dir = tempFolder();
    const out = join(dir, 'train.json');
    writeFileSync(out, 'old contents');
    await writeDataset({ type: 'text_only', instances: [{ text: 'new' }], origins: [{ file: 'x', index: 0 }] }, out);
    expect(JSON.parse(readFileSync(out, 'utf8'))).toEqual({ type: 'text_only', instances: [{ text: 'new' }] });
    expect(readdirSync(dir)).toEqual(['train.json']);
    await expect(writeDataset({ type: 'text_only', instances: [{ text: 'x' }], origins: [{ file: 'x', index: 0 }] }, dir)).rejects.toThrow(
      `dataset ${dir}: is a folder; give the file to write, e.g. ${join(dir, 'train.json')}`,
    );
  });
});
