/**
 * `lmflow data inspect` end to end with the real stories260K tokenizer: the JSON lines are
 * exactly what @lmflow/data's inspectDataset gives for the same options, and the trained span
 * of a text2text sample is the output's tokens plus EOS.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { IGNORE_INDEX } from '@lmflow/core';
import { inspectDataset, loadDataset, loadTokenizer } from '@lmflow/data';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../index.js';
import { memoryIo } from '../test-io.js';

const repoRoot = path.resolve(fileURLToPath(import.meta.url), '../../../../..');
const model = path.resolve(repoRoot, '../shared/models/stories260K');
let dir: string;
const text2text = {
  type: 'text2text',
  instances: [
    { input: 'Once upon a time,', output: ' there was a little girl named Lily.' },
    { input: 'The cat sat', output: ' on the mat and purred.' },
    { input: 'Tom had a red ball.', output: ' He threw it to his dog, who ran fast to catch it in the park.' },
  ],
};
const conversation = {
  type: 'conversation',
  instances: [
    {
      system: 'Be kind.',
      messages: [
        { role: 'user', content: 'Tell me a story.' },
        { role: 'assistant', content: 'Once upon a time, a bird sang.' },
        { role: 'user', content: 'More!' },
        { role: 'assistant', content: 'The bird flew home.' },
      ],
    },
  ],
};

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'lmflow-inspect-'));
  writeFileSync(path.join(dir, 'stories.json'), JSON.stringify(text2text));
  writeFileSync(path.join(dir, 'chat.json'), JSON.stringify(conversation));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function lmflow(argv: string[], env: Record<string, string> = {}) {
  const io = memoryIo({ cwd: dir, env });
  const status = await runCli(['data', 'inspect', '--model_name_or_path', model, ...argv], io);
  return { status, out: io.out(), err: io.err() };
}
const jsonLines = (out: string) => out.trimEnd().split('\n').map((line) => JSON.parse(line) as { input_ids: number[]; labels: number[] });

describe('lmflow data inspect', () => {
  it('--json prints one {input_ids, labels} line per sample, unpadded, equal to inspectDataset', async () => {
    const result = await lmflow(['--dataset_path', 'stories.json', '--json']);
    expect(result.status).toBe(0);
    expect(result.err).toBe('read 3 instances of text2text from 1 file\ninspected 3 samples\n');
    const lines = jsonLines(result.out);
    for (const line of result.out.trimEnd().split('\n')) expect(Object.keys(JSON.parse(line) as object)).toEqual(['input_ids', 'labels']);

    const tokenizer = await loadTokenizer(model);
    const expected = inspectDataset(await loadDataset(path.join(dir, 'stories.json')), tokenizer);
    expect(lines).toEqual(expected.map((s) => ({ input_ids: s.inputIds, labels: s.labels })));

    text2text.instances.forEach((instance, i) => {
      const { input_ids: ids, labels } = lines[i]!;
      expect(labels).toHaveLength(ids.length);
      // Loss only on the output, then EOS (</s> = 2): the trained span is the output's tokens.
      const trained = labels.filter((label) => label !== IGNORE_INDEX);
      expect(trained).toEqual([...tokenizer.encode(instance.output, { addSpecialTokens: false }), 2]);
      expect(ids.slice(ids.length - trained.length)).toEqual(trained);
      expect(labels.slice(0, ids.length - trained.length).every((label) => label === IGNORE_INDEX)).toBe(true);
    });
    // No padding: samples keep their own lengths.
    expect(new Set(lines.map((l) => l.input_ids.length)).size).toBe(3);
  });

  it('passes --train_on_prompt, --block_size and --max_samples through', async () => {
    const all = jsonLines((await lmflow(['--dataset_path', 'stories.json', '--json', '--train_on_prompt'])).out);
    for (const { input_ids: ids, labels } of all) expect(labels).toEqual(ids);

    const cut = await lmflow(['--dataset_path', 'stories.json', '--json', '--block_size', '8', '--max_samples', '2']);
    const lines = jsonLines(cut.out);
    expect(lines).toHaveLength(2);
    const tokenizer = await loadTokenizer(model);
    const expected = inspectDataset(await loadDataset(path.join(dir, 'stories.json')), tokenizer, { blockSize: 8, limit: 2 });
    expect(lines).toEqual(expected.map((s) => ({ input_ids: s.inputIds, labels: s.labels })));
    for (const line of lines) expect(line.input_ids.length).toBeLessThanOrEqual(8);
  });

  it('marks trained spans with brackets off a terminal and with colour when forced', async () => {
    const plain = await lmflow(['--dataset_path', 'stories.json', '--max_samples', '1']);
    expect(plain.status).toBe(0);
    expect(plain.out).toMatch(/^trained tokens inside ⟦ ⟧/);
    expect(plain.out).toMatch(/^sample 0 \(.*stories\.json instance 0\): \d+ tokens, \d+ trained\n.*\|⟦ .*<\/s>⟧$/m);
    expect(plain.out).not.toContain('\x1b[');
    const coloured = await lmflow(['--dataset_path', 'stories.json', '--max_samples', '1'], { FORCE_COLOR: '1' });
    expect(coloured.out).toContain('\x1b[32;1m');
    expect(coloured.out).not.toContain('⟦');
  });

  it('applies --conversation_template and checks its name before any work', async () => {
    const result = await lmflow(['--dataset_path', 'chat.json', '--conversation_template', 'llama2', '--json']);
    expect(result.status).toBe(0);
    const [sample] = jsonLines(result.out);
    const tokenizer = await loadTokenizer(model);
    const expected = inspectDataset(await loadDataset(path.join(dir, 'chat.json')), tokenizer, { conversationTemplate: 'llama2' });
    expect(sample).toEqual({ input_ids: expected[0]!.inputIds, labels: expected[0]!.labels });
    // Two assistant turns are trained, the user and system turns are not.
    const trainedText = tokenizer.decode(sample!.labels.filter((l) => l !== IGNORE_INDEX), { skipSpecialTokens: true });
    expect(trainedText).toContain('Once upon a time, a bird sang.');
    expect(trainedText).toContain('The bird flew home.');
    expect(trainedText).not.toContain('Tell me a story');

    const typo = await lmflow(['--dataset_path', 'chat.json', '--conversation_template', 'lama2']);
    expect(typo.status).toBe(2);
    expect(typo.err).toMatch(/^lmflow data inspect: error: --conversation_template: expected one of .*llama2.*, got "lama2"; did you mean "llama2"\?\n$/);
  });

  it('names a missing dataset or model folder before any work', async () => {
    expect((await lmflow(['--dataset_path', 'nope'])).err).toBe(
      `lmflow data inspect: error: --dataset_path: expected an existing file or folder, got "nope" (nothing at ${path.join(dir, 'nope')})\n`,
    );
    const io = memoryIo({ cwd: dir });
    expect(await runCli(['data', 'inspect', '--dataset_path', 'stories.json', '--model_name_or_path', 'stories.json'], io)).toBe(2);
    expect(io.err()).toBe(
      `lmflow data inspect: error: --model_name_or_path: expected an existing folder, got "stories.json" (${path.join(dir, 'stories.json')} is a file)\n`,
    );
  });
});
