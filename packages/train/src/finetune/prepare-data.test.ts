import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadTokenizer, tokenizeDataset, writeDataset, loadDataset } from '@lmflow/data';
import { prepareData, type DataConfig } from './prepare-data.js';
import { stories260K, tempDir } from './test-data.js';

const texts = ['Once upon a time there was a little dog.', 'The dog liked to run in the park every day.', 'One day it met a cat.'];

async function textFile(dir: string, lines: string[]): Promise<string> {
  const file = path.join(dir, 'texts.json');
  await writeDataset({ type: 'text_only', instances: lines.map((text) => ({ text })), origins: lines.map((_, i) => ({ file, index: i })) } as never, file);
  return file;
}

const base = (dataset_path: string): DataConfig => ({ dataset_path, validation_split_percentage: 0, train_on_prompt: false, add_eos: true, packing: false, seed: 1 });
const quiet = { onWarning: () => {} };

describe('prepareData: --disable_group_texts false', () => {
  it('cuts the concatenated token stream into exact blocks (remainder dropped), with its labels', async () => {
    const file = await textFile(tempDir('group'), texts);
    const tokenizer = await loadTokenizer(stories260K);
    const stream = (await tokenizeDataset(await loadDataset(file), tokenizer, {})).flatMap((s) => s.inputIds);
    const { train, summary } = await prepareData({ ...base(file), disable_group_texts: false }, tokenizer, 8, quiet);
    expect(train.length).toBe(Math.floor(stream.length / 8));
    expect(train.every((b) => b.inputIds.length === 8 && b.labels.length === 8 && !b.segments)).toBe(true);
    expect(train.flatMap((b) => b.inputIds)).toEqual(stream.slice(0, train.length * 8));
    expect(train.flatMap((b) => b.labels)).toEqual(stream.slice(0, train.length * 8));
    expect(summary.join('\n')).toContain('(grouped into blocks of 8)');
  });

  it('refuses --packing with it, and text shorter than one block', async () => {
    const file = await textFile(tempDir('group'), texts);
    const tokenizer = await loadTokenizer(stories260K);
    await expect(prepareData({ ...base(file), disable_group_texts: false, packing: true }, tokenizer, 8, quiet)).rejects.toThrow(
      '--packing and --disable_group_texts false are two ways to fill blocks',
    );
    await expect(prepareData({ ...base(file), disable_group_texts: false }, tokenizer, 4096, quiet)).rejects.toThrow(/tokens in all, fewer than one block of --block_size 4096/);
  });
});
