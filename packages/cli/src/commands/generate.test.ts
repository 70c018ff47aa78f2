/**
 * `lmflow generate` with stories260K: --json prints exactly the library's text and generated
 * ids, the streamed text is the library's text, and the flags reach the sampler.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadGenerator, type Generator } from '@lmflow/inference';
import { runCli } from '../index.js';
import { memoryIo } from '../test-io.js';

const repoRoot = path.resolve(fileURLToPath(import.meta.url), '../../../../..');
const model = path.resolve(repoRoot, '../shared/models/stories260K');
const GOLDEN_LINE =
  'Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball. She wanted to play with it, but it was too high.';

let generator: Generator;
beforeAll(async () => {
  generator = await loadGenerator(model, { device: 'cpu' });
});
afterAll(() => generator.model.dispose());

async function lmflow(argv: string[]) {
  const io = memoryIo({ cwd: repoRoot });
  const status = await runCli(['generate', ...argv], io);
  return { status, out: io.out(), err: io.err() };
}

describe('lmflow generate', () => {
  it('--json prints {"text", "token_ids"}: the generated ids and text of the library, greedy with --do_sample false', async () => {
    const result = await lmflow(['--model_name_or_path', '../shared/models/stories260K', '--prompt', 'Once upon a time,', '--max_new_tokens', '25', '--do_sample', 'false', '--json']);
    expect(result.status).toBe(0);
    const printed = JSON.parse(result.out) as { text: string; token_ids: number[] };
    expect(Object.keys(printed)).toEqual(['text', 'token_ids']);
    const expected = await generator.generate('Once upon a time,', { maxNewTokens: 25, doSample: false });
    expect(printed).toEqual({ text: expected.text, token_ids: expected.tokenIds });
    expect(printed.token_ids).toHaveLength(25);
    expect(printed.text.startsWith(' there was a little girl named Lily.')).toBe(true);
    expect(result.err).toMatch(/^6 prompt tokens, 25 generated in [\d.]+ s \([\d.]+ tokens\/s\); finished: length\n$/);
  });

  it('without a prompt starts from BOS and streams the golden text to stdout', async () => {
    const result = await lmflow(['--model_name_or_path', model, '--max_new_tokens', '60']);
    expect(result.status).toBe(0);
    const expected = await generator.generate('', { maxNewTokens: 60 });
    expect(result.out).toBe(`${expected.text}\n`);
    expect(result.out.startsWith(GOLDEN_LINE.slice(0, 150))).toBe(true);
  });

  it('passes the sampling flags through: the same seed and flags give the library\'s sample', async () => {
    const flags = ['--temperature', '0.9', '--top_k', '40', '--top_p', '0.9', '--min_p', '0.02', '--repetition_penalty', '1.1', '--seed', '7', '--max_new_tokens', '30'];
    const a = JSON.parse((await lmflow(['--model_name_or_path', model, '--prompt', 'Tom', ...flags, '--json'])).out) as { token_ids: number[] };
    const expected = await generator.generate('Tom', { temperature: 0.9, topK: 40, topP: 0.9, minP: 0.02, repetitionPenalty: 1.1, seed: 7, maxNewTokens: 30 });
    expect(a.token_ids).toEqual(expected.tokenIds);
    const greedy = await generator.generate('Tom', { maxNewTokens: 30 });
    expect(expected.tokenIds).not.toEqual(greedy.tokenIds);
  });

  it('checks flags before loading anything', async () => {
    const badTopP = await lmflow(['--model_name_or_path', model, '--top_p', '0']);
    expect(badTopP.status).toBe(2);
    expect(badTopP.err).toBe('lmflow generate: error: --top_p: expected a number > 0 and <= 1, got 0\n');
    const noModel = await lmflow(['--prompt', 'hi']);
    expect(noModel.status).toBe(2);
    expect(noModel.err).toMatch(/^lmflow generate: error: .*--model_name_or_path/);
    const device = await lmflow(['--model_name_or_path', model, '--device', 'gpu']);
    expect(device.err).toBe('lmflow generate: error: --device: expected cpu, reference or cuda:N, got "gpu"\n');
  });

  it('reports a prompt longer than the context as one line', async () => {
    const result = await lmflow(['--model_name_or_path', model, '--prompt', 'a b '.repeat(300)]);
    expect(result.status).toBe(1);
    expect(result.err).toMatch(/^lmflow generate: error: stream: the prompt has \d+ tokens, and the model's context is 512 tokens \(config.json max_position_embeddings\); shorten the prompt\n$/);
  });
});
