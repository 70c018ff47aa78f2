/**
 * Generation with a real model, stories260K (../shared/models/stories260K): greedy decoding with
 * the KV cache equals greedy decoding that recomputes the whole sequence at every step, and both
 * give the golden text of its README; batches, stop strings, EOS, sampling seeds, streaming and
 * abort on the same model.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { argmax, noGrad, tensor } from '@lmflow/tensor';
import { createKvCache } from '@lmflow/models';
import { expectClose } from '@lmflow/test-utils';
import { createGenerator, loadGenerator, type Generator } from '../index.js';
import { STORIES_GOLDEN_IDS, STORIES_GOLDEN_LINE, stories260K } from '../test-support/paths.js';

let generator: Generator;
let tmp: string;

beforeAll(async () => {
  generator = await loadGenerator(stories260K, { device: 'cpu' });
  tmp = await mkdtemp(path.join(os.tmpdir(), 'lmflow-generate-'));
});
afterAll(async () => {
  generator.model.dispose();
  await rm(tmp, { recursive: true, force: true });
});

/** Greedy decoding by hand: the whole sequence through the model at every step, no cache. */
function recomputeGreedy(prompt: number[], steps: number): number[] {
  const ids = [...prompt];
  for (let i = 0; i < steps; i++) {
    const next = noGrad(() => {
      const input = tensor([ids], { dtype: 'i32' });
      const logits = generator.model.forward(input);
      const last = logits.select(1, ids.length - 1);
      const id = argmax(last, -1).item();
      input.dispose();
      logits.dispose();
      last.dispose();
      return id;
    });
    ids.push(next);
  }
  return ids.slice(prompt.length);
}

/** A copy of stories260K (links to its files) with another generation_config.json. */
async function storiesWith(name: string, generationConfig: Record<string, unknown>): Promise<string> {
  const dir = path.join(tmp, name);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir);
  for (const file of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']) await symlink(path.join(stories260K, file), path.join(dir, file));
  await writeFile(path.join(dir, 'generation_config.json'), JSON.stringify(generationConfig));
  return dir;
}

describe('greedy generation (stories260K golden output)', () => {
  it('with the KV cache equals recomputing the sequence every step, and equals the README text', async () => {
    const result = await generator.generate('', { maxNewTokens: 80, stop: ['\n'] });
    expect(result.text).toBe(STORIES_GOLDEN_LINE);
    expect(result.finishReason).toBe('stop');
    expect([1, ...result.tokenIds.slice(0, 19)]).toEqual(STORIES_GOLDEN_IDS);
    expect(result.usage).toEqual({ promptTokens: 1, completionTokens: result.tokenIds.length });
    expect(recomputeGreedy([1], result.tokenIds.length)).toEqual(result.tokenIds);
    // The same text token by token from the tokenizer (the last token completed the "\n").
    expect(generator.tokenizer.decode(result.tokenIds.slice(0, -1), { skipSpecialTokens: true })).toBe(STORIES_GOLDEN_LINE);
  });

  it('an empty prompt starts from BOS, as [BOS] does; a text prompt is tokenized with BOS', async () => {
    const fromEmpty = await generator.generate('', { maxNewTokens: 12 });
    const fromIds = await generator.generate([], { maxNewTokens: 12 });
    const fromBos = await generator.generate([1], { maxNewTokens: 12 });
    expect(fromEmpty.tokenIds).toEqual(STORIES_GOLDEN_IDS.slice(1, 13));
    expect(fromIds).toEqual(fromEmpty);
    expect(fromBos).toEqual(fromEmpty);
    expect(generator.encodePrompt('Once upon a time,')).toEqual(STORIES_GOLDEN_IDS.slice(0, 6));
  });

  it('a text prompt continues with its leading space, and matches the golden continuation', async () => {
    const result = await generator.generate('Once upon a time,', { maxNewTokens: 14 });
    expect(result.tokenIds).toEqual(STORIES_GOLDEN_IDS.slice(6).concat(result.tokenIds.slice(14)));
    expect(result.text).toBe(' there was a little girl named Lily. She loved to');
    expect(result.finishReason).toBe('length');
    expect(result.usage).toEqual({ promptTokens: 6, completionTokens: 14 });
  });

  it('the prompt forward computes logits of the last position only, equal to the full forward\'s last row', () => {
    noGrad(() => {
      const ids = tensor([STORIES_GOLDEN_IDS.slice(0, 9), STORIES_GOLDEN_IDS.slice(5, 14)], { dtype: 'i32' });
      const full = generator.model.forward(ids);
      const cache = createKvCache(generator.model, { batch: 2, maxLength: 16 });
      const last = generator.model.forward(ids, { cache, lastLogitsOnly: true });
      expect(last.shape).toEqual([2, 1, 512]);
      const expected = full.narrow(1, 8, 1);
      // The head multiplies 1 row instead of 9: the same sums, possibly in another order.
      expectClose(last, expected, { atol: 1e-5, rtol: 1e-5 }, 'last-position logits');
      expect(cache.length).toBe(9);
      for (const t of [ids, full, last, expected]) t.dispose();
      cache.dispose();
    });
  });
});

describe('batched generation', () => {
  const prompts = ['Once upon a time,', 'Tom', 'The big dog ran to the park and saw a cat.', ''];

  it('rows of different lengths (left padding, per-row positions) each give what a single generate gives', async () => {
    const batch = await generator.generateBatch(prompts, { maxNewTokens: 24 });
    expect(batch).toHaveLength(4);
    for (const [i, prompt] of prompts.entries()) {
      const single = await generator.generate(prompt, { maxNewTokens: 24 });
      expect(batch[i], `row ${i}: ${JSON.stringify(prompt)}`).toEqual(single);
    }
    expect(batch.map((r) => r.usage.promptTokens)).toEqual(prompts.map((p) => generator.encodePrompt(p).length));
    expect(new Set(batch.map((r) => r.usage.promptTokens)).size).toBe(4);
  });

  it('rows stop on their own: a stop string ends one row while the others go on', async () => {
    const batch = await generator.generateBatch(['Once upon a time,', 'Tom'], { maxNewTokens: 20, stop: ['Lily'] });
    const singles = await Promise.all(['Once upon a time,', 'Tom'].map((p) => generator.generate(p, { maxNewTokens: 20, stop: ['Lily'] })));
    expect(batch).toEqual(singles);
    expect(batch[0]!.finishReason).toBe('stop');
    expect(batch[0]!.text).toBe(' there was a little girl named ');
  });
});

describe('stop strings and EOS', () => {
  it('a stop string spanning several tokens ends generation before it; the text excludes it', async () => {
    // "girl" is three tokens here: " g", "ir", "l".
    const result = await generator.generate('', { maxNewTokens: 50, stop: ['girl'] });
    expect(result.text).toBe('Once upon a time, there was a little ');
    expect(result.finishReason).toBe('stop');
    const pieces = result.tokenIds.slice(-3).map((id) => generator.tokenizer.idToToken(id));
    expect(pieces).toEqual(['▁g', 'ir', 'l']);
    // The earliest of several stop strings wins.
    const first = await generator.generate('', { maxNewTokens: 50, stop: ['park', 'time'] });
    expect(first.text).toBe('Once upon a ');
  });

  it('eos_token_id from generation_config.json ends generation (one id or a list); the text excludes it', async () => {
    const lily = generator.tokenizer.tokenToId('▁Lily')!;
    const dir = await storiesWith('eos-list', { eos_token_id: [2, lily] });
    const withList = await loadGenerator(dir, { device: 'cpu' });
    const result = await withList.generate('', { maxNewTokens: 50 });
    expect(result.finishReason).toBe('eos');
    expect(result.tokenIds.at(-1)).toBe(lily);
    expect(result.text).toBe('Once upon a time, there was a little girl named');
    withList.model.dispose();

    const single = await loadGenerator(await storiesWith('eos-one', { eos_token_id: lily }), { device: 'cpu' });
    expect((await single.generate('', { maxNewTokens: 50 })).text).toBe('Once upon a time, there was a little girl named');
    // Options win over the file.
    expect((await single.generate('', { maxNewTokens: 10, eosTokenIds: [] })).finishReason).toBe('length');
    single.model.dispose();
  });

  it('max_length and do_sample of generation_config.json are defaults; options override them', async () => {
    const dir = await storiesWith('defaults', { max_length: 10, do_sample: true, temperature: 1.5, top_k: 0 });
    const sampling = await loadGenerator(dir, { device: 'cpu' });
    const a = await sampling.generate('', { seed: 3 });
    expect(a.tokenIds).toHaveLength(9); // max_length counts the prompt (BOS)
    expect(a.finishReason).toBe('length');
    expect((await sampling.generate('', { seed: 3 })).tokenIds).toEqual(a.tokenIds);
    const greedy = await sampling.generate('', { doSample: false, maxNewTokens: 12 });
    expect(greedy.tokenIds).toEqual(STORIES_GOLDEN_IDS.slice(1, 13));
    await expect(sampling.generate('x'.repeat(20))).rejects.toThrow(/generation_config\.json max_length 10/);
    sampling.model.dispose();
  });

  it('generation stops at the model\'s context (max_position_embeddings) with finishReason length', async () => {
    const prompt = Array.from({ length: 500 }, (_, i) => STORIES_GOLDEN_IDS[i % 20]!);
    const result = await generator.generate(prompt, { maxNewTokens: 100 });
    expect(result.tokenIds).toHaveLength(12);
    expect(result.finishReason).toBe('length');
    await expect(generator.generate(Array.from({ length: 512 }, () => 1))).rejects.toThrow(
      "generate: the prompt has 512 tokens, and the model's context is 512 tokens (config.json max_position_embeddings); shorten the prompt",
    );
  });
});

describe('sampling', () => {
  it('is reproducible for a seed and differs across seeds; top-k 1 equals greedy', async () => {
    const options = { maxNewTokens: 40, temperature: 1.2, topP: 0.95 };
    const a = await generator.generate('', { ...options, seed: 1 });
    const b = await generator.generate('', { ...options, seed: 1 });
    const c = await generator.generate('', { ...options, seed: 2 });
    expect(b).toEqual(a);
    expect(c.tokenIds).not.toEqual(a.tokenIds);
    const greedy = await generator.generate('Tom', { maxNewTokens: 30 });
    const topOne = await generator.generate('Tom', { maxNewTokens: 30, doSample: true, topK: 1, temperature: 2, seed: 9 });
    expect(topOne.tokenIds).toEqual(greedy.tokenIds);
    // Temperature 0 means greedy.
    expect((await generator.generate('Tom', { maxNewTokens: 30, temperature: 0 })).tokenIds).toEqual(greedy.tokenIds);
  });

  it('a repetition penalty changes greedy output away from repeats', async () => {
    const plain = await generator.generate('', { maxNewTokens: 120 });
    const penalized = await generator.generate('', { maxNewTokens: 120, repetitionPenalty: 1.5 });
    const repeats = (ids: number[]) => ids.length - new Set(ids).size;
    expect(penalized.tokenIds).not.toEqual(plain.tokenIds);
    expect(repeats(penalized.tokenIds)).toBeLessThan(repeats(plain.tokenIds));
  });
});

describe('streaming', () => {
  it('deltas concatenate to the result text and ids, and the text to decode(prompt + generated) minus the prompt', async () => {
    const stream = generator.stream('Lily and Tom', { maxNewTokens: 60 });
    const deltas = [];
    for await (const delta of stream) deltas.push(delta);
    const result = await stream.result;
    expect(deltas.map((d) => d.text).join('')).toBe(result.text);
    expect(deltas.flatMap((d) => d.tokenIds)).toEqual(result.tokenIds);
    expect(deltas.slice(0, -1).every((d) => d.text !== '')).toBe(true);
    const prompt = generator.encodePrompt('Lily and Tom');
    const decode = (ids: number[]) => generator.tokenizer.decode(ids, { skipSpecialTokens: true });
    expect(result.text).toBe(decode([...prompt, ...result.tokenIds]).slice(decode(prompt).length));
    expect(result).toEqual(await generator.generate('Lily and Tom', { maxNewTokens: 60 }));
  });

  it('streams stories260K byte-fallback tokens whole: every delta holds complete characters', async () => {
    // Sampling hot makes rare byte tokens (<0xE2> ...) likely; the deltas must still decode whole.
    const stream = generator.stream('', { maxNewTokens: 300, temperature: 3, topK: 0, seed: 5 });
    const deltas = [];
    for await (const delta of stream) deltas.push(delta);
    const result = await stream.result;
    const byteTokens = result.tokenIds.filter((id) => /^<0x[0-9A-F]{2}>$/.test(generator.tokenizer.idToToken(id) ?? ''));
    expect(byteTokens.length).toBeGreaterThan(0);
    expect(deltas.map((d) => d.text).join('')).toBe(result.text);
    const textIds = result.finishReason === 'eos' ? result.tokenIds.slice(0, -1) : result.tokenIds;
    expect(result.text).toBe(generator.tokenizer.decode(textIds, { skipSpecialTokens: true }));
    for (const delta of deltas.slice(0, -1)) expect(delta.text).not.toMatch(/^[\uDC00-\uDFFF]|[\uD800-\uDBFF]$|\uFFFD$/);
  });

  it('stop strings in a stream: no delta carries any part of the stop string', async () => {
    const stream = generator.stream('', { maxNewTokens: 50, stop: ['little girl'] });
    const texts: string[] = [];
    for await (const delta of stream) texts.push(delta.text);
    expect(texts.join('')).toBe('Once upon a time, there was a ');
    expect((await stream.result).finishReason).toBe('stop');
  });
});

describe('abort', () => {
  it('an AbortSignal stops between tokens with finishReason abort; an aborted one generates nothing', async () => {
    const controller = new AbortController();
    const stream = generator.stream('', { maxNewTokens: 400, signal: controller.signal });
    let seen = 0;
    for await (const delta of stream) {
      seen += delta.tokenIds.length;
      if (seen >= 5) controller.abort();
    }
    const result = await stream.result;
    expect(result.finishReason).toBe('abort');
    expect(result.tokenIds.length).toBeGreaterThanOrEqual(5);
    expect(result.tokenIds.length).toBeLessThan(20);
    expect(result.tokenIds).toEqual(STORIES_GOLDEN_IDS.slice(1, 1 + result.tokenIds.length));

    const already = AbortSignal.abort();
    expect(await generator.generate('', { signal: already })).toEqual({ text: '', tokenIds: [], finishReason: 'abort', usage: { promptTokens: 1, completionTokens: 0 } });
    const timed = await generator.generate('', { maxNewTokens: 500, signal: AbortSignal.timeout(30) });
    expect(timed.finishReason === 'abort' || timed.finishReason === 'length').toBe(true);
  });

  it('leaving a stream early aborts its generation', async () => {
    const stream = generator.stream('', { maxNewTokens: 400 });
    for await (const delta of stream) if (delta.text.includes('time')) break;
    const result = await stream.result;
    expect(result.finishReason).toBe('abort');
    expect(result.tokenIds.length).toBeLessThan(10);
  });
});

describe('options and prompts are checked before any work', () => {
  it('names the option, the value and what was expected', async () => {
    await expect(generator.generate('', { temperature: -1 })).rejects.toThrow('generate: options.temperature is -1, expected a number >= 0');
    await expect(generator.generate('', { topP: 0 })).rejects.toThrow('generate: options.topP is 0, expected a number in (0, 1]');
    await expect(generator.generate('', { maxNewTokens: 2.5 })).rejects.toThrow('generate: options.maxNewTokens is 2.5, expected an integer >= 1');
    await expect(generator.generate('', { stop: [''] })).rejects.toThrow('generate: options.stop is [""], expected a list of non-empty strings');
    await expect(generator.generate('', { max_new_tokens: 5 } as never)).rejects.toThrow('generate: unknown option "max_new_tokens"; did you mean "maxNewTokens"?');
    await expect(generator.generate([1, 600])).rejects.toThrow('generate: prompt[1] is 600, expected a token id in [0, 512)');
    expect(() => generator.stream('', { seed: -1 })).toThrow('stream: options.seed is -1, expected an integer >= 0');
    expect(() => generator.stream(Array.from({ length: 600 }, () => 1))).toThrow(/stream: the prompt has 600 tokens/);
    await expect(generator.generateBatch([])).rejects.toThrow('generateBatch: prompts must be a non-empty list');
  });

  it('a generator from createGenerator with no generation config uses the tokenizer EOS and 256 new tokens', async () => {
    const bare = createGenerator(generator.model, generator.tokenizer);
    const result = await bare.generate('', {});
    expect(result.tokenIds.length).toBe(256);
    expect(result.tokenIds.slice(0, 19)).toEqual(STORIES_GOLDEN_IDS.slice(1));
  });
});
