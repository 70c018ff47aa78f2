import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createRuntime, type Dataset } from '@lmflow/core';
import { describeDataset, loadDataset } from './load-dataset.js';
import { DatasetError } from './dataset-error.js';
import { shared, tempFolder } from '../test-fixtures.js';

const conversation = (messages: [string, string][], extra: Record<string, unknown> = {}) => ({
  ...extra,
  messages: messages.map(([role, content]) => ({ role, content })),
});

/** The message of the error `load` rejects with, with the folder replaced by "DIR". */
async function errorOf(dir: string, files: string | string[] = 'train.json'): Promise<string> {
  const path = Array.isArray(files) ? dir : join(dir, files);
  const error = await loadDataset(path).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DatasetError);
  return (error as Error).message.replaceAll(dir, 'DIR');
}

describe('loadDataset', () => {
  it('reads ../shared/data/wikitext-2-raw-v1-test.json as is: 4358 text_only instances, empty lines included', async () => {
    const path = shared('data/wikitext-2-raw-v1-test.json');
    const dataset = await loadDataset(path);
    expect(dataset.type).toBe('text_only');
    expect(dataset.instances).toHaveLength(4358);
    expect(dataset.instances[1]).toEqual({ text: ' = Robert Boulter = \n' });
    expect(dataset.instances.filter((i) => (i as { text: string }).text === '')).toHaveLength(1467);
    expect(dataset.origins[4357]).toEqual({ file: path, index: 4357 });
    expect(describeDataset(dataset)).toBe('read 4358 instances of text_only from 1 file');
  });

  it('reads all six types, each instance kept as written', async () => {
    const instances = {
      text_only: [{ text: 'a' }],
      text2text: [{ input: 'q', output: 'a' }],
      conversation: [conversation([['user', 'hi'], ['assistant', 'hello']], { conversation_id: 7, system: 's', tools: [''] })],
      paired_conversation: [{ chosen: conversation([['user', 'q'], ['assistant', 'good']]), rejected: conversation([['user', 'q'], ['assistant', 'bad']]) }],
      text_to_scored_textlist: [{ input: 'q', output: [{ text: 'a', score: 1 }, { text: 'b', score: -0.5 }] }],
      image_text: [{ images: ['cat.png'], text: 'a cat' }],
    };
    for (const [type, list] of Object.entries(instances)) {
      const dir = tempFolder({ 'd.json': { type, instances: list } });
      const dataset = await loadDataset(join(dir, 'd.json'));
      expect(dataset.type).toBe(type);
      expect(dataset.instances).toEqual(list);
    }
  });

  it('reads a folder of *.json files in name order, says which other files it did not read', async () => {
    const dir = tempFolder({
      'b.json': { type: 'text2text', instances: [{ input: 'b0', output: 'x' }] },
      'a.json': { type: 'text2text', instances: [{ input: 'a0', output: 'x' }, { input: 'a1', output: 'x' }] },
      'notes.txt': 'not data',
      'nested/c.json': { type: 'text_only', instances: [{ text: 'not read: folders are not searched' }] },
    });
    const dataset = await loadDataset(dir);
    expect(dataset.instances.map((i) => (i as { input: string }).input)).toEqual(['a0', 'a1', 'b0']);
    expect(dataset.origins).toEqual([
      { file: join(dir, 'a.json'), index: 0 },
      { file: join(dir, 'a.json'), index: 1 },
      { file: join(dir, 'b.json'), index: 0 },
    ]);
    expect(describeDataset(dataset).replaceAll(dir, 'DIR')).toBe('read 3 instances of text2text from 2 files (not read, as they are not *.json: DIR/nested, DIR/notes.txt)');
  });

  it('rejects mixed types across the files of a folder, naming both files', async () => {
    const dir = tempFolder({ 'a.json': { type: 'text2text', instances: [{ input: 'q', output: 'a' }] }, 'b.json': { type: 'text_only', instances: [{ text: 't' }] } });
    expect(await errorOf(dir, [])).toBe('dataset DIR/b.json: "type" is "text_only" but DIR/a.json has "text2text"; all files of a dataset folder must have one type');
  });

  it('rejects an empty dataset, a folder without *.json files, a missing path and JSON Lines', async () => {
    expect(await errorOf(tempFolder({ 'train.json': { type: 'text_only', instances: [] } }))).toBe('dataset DIR/train.json: has no instances (read 1 file); a dataset needs at least one');
    expect(await errorOf(tempFolder({ 'a.jsonl': '{}' }), [])).toBe('dataset DIR: has no *.json files (found only DIR/a.jsonl); a dataset folder holds LMFlow JSON files {"type": ..., "instances": [...]}');
    expect(await errorOf(tempFolder(), 'missing.json')).toBe('dataset DIR/missing.json: no such file or folder');
    expect(await errorOf(tempFolder({ 'train.jsonl': '{"text": "a"}\n' }), 'train.jsonl')).toBe(
      'dataset DIR/train.jsonl: is JSON Lines; an LMFlow dataset file is one JSON object {"type": ..., "instances": [...]} (convert it with lmflow data convert --from jsonl-text|alpaca|sharegpt)',
    );
  });

  it('names the file, line and column of a JSON syntax error', async () => {
    const dir = tempFolder({ 'train.json': '{\n  "type": "text_only",\n  "instances": [\n    {"text": "a"}\n    {"text": "b"}\n  ]\n}\n' });
    expect(await errorOf(dir)).toMatch(/^dataset DIR\/train\.json: invalid JSON at line 5, column 5: /);
    expect(await errorOf(tempFolder({ 'train.json': '{"type": "text_only", "instances": [' }))).toMatch(/^dataset DIR\/train\.json: invalid JSON at line 1, column 37: /);
  });

  it('rejects a bad top level: an alpaca list, an unknown type, a missing or wrong "instances", extra keys', async () => {
    const cases: [unknown, string][] = [
      [[{ instruction: 'i', input: '', output: 'o' }], 'is a JSON array, expected an LMFlow dataset object {"type": ..., "instances": [...]}; to read an alpaca or sharegpt list, convert it first (lmflow data convert --from alpaca|sharegpt)'],
      [{ instances: [] }, '"type" is missing; expected one of text_only, text2text, conversation, paired_conversation, text_to_scored_textlist, image_text'],
      [{ type: 'chat', instances: [] }, '"type" is "chat", expected one of text_only, text2text, conversation, paired_conversation, text_to_scored_textlist, image_text'],
      [{ type: 'text_only', instances: { text: 'a' } }, '"instances" is {"text":"a"} (an object), expected an array of text_only instances'],
      [{ type: 'text_only', instances: [], version: 2 }, 'unknown top-level field "version"; an LMFlow dataset file has "type" and "instances"'],
      ['"text"', 'is "text", expected an LMFlow dataset object {"type": ..., "instances": [...]}'],
    ];
    for (const [content, message] of cases) {
      const dir = tempFolder({ 'train.json': typeof content === 'string' ? content : JSON.stringify(content) });
      expect(await errorOf(dir)).toBe(`dataset DIR/train.json: ${message}`);
    }
  });

  it('names the file, instance index and field path of every bad instance', async () => {
    const ok = conversation([['user', 'q'], ['assistant', 'a']]);
    const cases: [string, unknown, string][] = [
      ['text_only', { text: 42 }, '"text" is 42 (a number), expected a string'],
      ['text_only', { txt: 'a' }, '"text" is missing; a text_only instance has "text"'],
      ['text_only', { text: 'a', label: 1 }, 'unknown field "label"; a text_only instance has "text"'],
      ['text_only', 'just text', 'the instance is "just text", expected an object with "text" (a text_only instance)'],
      ['text2text', { input: 'q' }, '"output" is missing; a text2text instance has "input", "output"'],
      ['text2text', { input: null, output: 'a' }, '"input" is null, expected a string'],
      ['conversation', conversation([['user', 'q'], ['assistant', 'a'], ['bot', 'x']]), '"messages[2].role" is "bot", expected "user" or "assistant"'],
      ['conversation', conversation([['system', 's'], ['user', 'q']]), '"messages[0].role" is "system", expected "user" or "assistant" (put a system prompt in the conversation\'s "system" field)'],
      ['conversation', { messages: [] }, '"messages" is [] (an array), expected a non-empty array of {"role", "content"} messages'],
      ['conversation', { messages: [{ role: 'user' }] }, '"messages[0].content" is missing, expected a string'],
      ['conversation', { messages: [{ role: 'user', content: ['a'] }] }, '"messages[0].content" is ["a"] (an array), expected a string'],
      ['conversation', { messages: [{ role: 'user', content: 'q', name: 'x' }] }, 'unknown field "messages[0].name"; a message has "role" and "content"'],
      ['conversation', { ...ok, system: 3 }, '"system" is 3 (a number), expected a string (or null)'],
      ['conversation', { ...ok, tools: 'search' }, '"tools" is "search", expected an array of tool descriptions (strings or objects)'],
      ['conversation', { ...ok, history: [] }, 'unknown field "history"; a conversation instance has "messages" (and optionally "system", "tools", "conversation_id")'],
      ['paired_conversation', { chosen: ok }, '"rejected" is missing; a paired_conversation instance has "chosen", "rejected"'],
      ['paired_conversation', { chosen: ok, rejected: conversation([['user', 'q'], ['gpt', 'a']]) }, '"rejected.messages[1].role" is "gpt", expected "user" or "assistant"'],
      ['paired_conversation', { chosen: 'good', rejected: ok }, '"chosen" is "good", expected an object with "messages", "system", "tools", "conversation_id" (a conversation instance)'],
      ['text_to_scored_textlist', { input: 'q', output: [] }, '"output" is [] (an array), expected a non-empty array of {"text", "score"} objects'],
      ['text_to_scored_textlist', { input: 'q', output: [{ text: 'a', score: '1' }] }, '"output[0].score" is "1", expected a finite number'],
      ['image_text', { images: 'cat.png', text: 'a cat' }, '"images" is "cat.png", expected an array of strings'],
      ['image_text', { images: ['a.png', 7], text: 'a cat' }, '"images[1]" is 7 (a number), expected a string'],
    ];
    for (const [type, bad, message] of cases) {
      const good = { text_only: { text: 'a' }, text2text: { input: 'q', output: 'a' }, conversation: ok, paired_conversation: { chosen: ok, rejected: ok }, text_to_scored_textlist: { input: 'q', output: [{ text: 'a', score: 1 }] }, image_text: { images: [], text: 't' } }[type];
      const dir = tempFolder({ 'train.json': { type, instances: [good, good, bad] } });
      const error = await loadDataset(join(dir, 'train.json')).catch((e: DatasetError) => e);
      expect((error as Error).message.replaceAll(dir, 'DIR'), `${type}: ${message}`).toBe(`dataset DIR/train.json: instance 2: ${message}`);
      expect((error as DatasetError).index).toBe(2);
    }
  });

  it('lets a resolveDataset plugin read another format, and validates what it returns', async () => {
    const dir = tempFolder({ 'data.csv': 'q,a\n' });
    const csv = join(dir, 'data.csv');
    const plugin = (instances: unknown[]) => ({
      name: 'csv',
      apply(runtime: ReturnType<typeof createRuntime>) {
        runtime.data.hooks.resolveDataset.tapPromise('csv', async ({ path }) =>
          path.endsWith('.csv') ? ({ type: 'text2text', instances, origins: instances.map((_, index) => ({ file: path, index })) } as Dataset) : undefined,
        );
      },
    });
    const dataset = await loadDataset(csv, { runtime: createRuntime({ plugins: [plugin([{ input: 'q', output: 'a' }])] }) });
    expect(dataset.instances).toEqual([{ input: 'q', output: 'a' }]);
    const error = await loadDataset(csv, { runtime: createRuntime({ plugins: [plugin([{ input: 'q' }])] }) }).catch((e: Error) => e);
    expect((error as Error).message.replaceAll(dir, 'DIR')).toBe('dataset DIR/data.csv: instance 0: "output" is missing; a text2text instance has "input", "output"');
    // Paths the plugin does not claim are read as LMFlow JSON.
    const json = join(dir, 'd.json');
    writeFileSync(json, JSON.stringify({ type: 'text_only', instances: [{ text: 'x' }] }));
    expect((await loadDataset(json, { runtime: createRuntime({ plugins: [plugin([])] }) })).type).toBe('text_only');
  });

  it('reads a large file in time linear in its size (100k instances, ~6 MB)', async () => {
    const n = 100_000;
    const instances = Array.from({ length: n }, (_, i) => ({ input: `question ${i} ${'x'.repeat(20)}`, output: `answer ${i}` }));
    const dir = tempFolder({ 'big.json': JSON.stringify({ type: 'text2text', instances }) });
    const start = performance.now();
    const dataset = await loadDataset(join(dir, 'big.json'));
    const seconds = (performance.now() - start) / 1000;
    expect(dataset.instances).toHaveLength(n);
    expect(dataset.instances[n - 1]).toEqual(instances[n - 1]);
    // A quadratic reader would take minutes here; a linear one well under a second on one core.
    expect(seconds).toBeLessThan(10);
  });
});
