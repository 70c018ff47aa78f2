/**
 * The server with a real model (stories260K) in its worker thread, through the official
 * `openai` client: greedy answers equal @lmflow/inference's own, 32 concurrent streams all get
 * their own right text, /health answers while the worker computes, and a client that leaves
 * mid-stream stops its generation in the worker.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadGenerator, type Generator } from '@lmflow/inference';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from './engine/engine.js';
import { workerEngine } from './engine/worker-engine.js';
import { createServer, type LmflowServer } from './server.js';

const repoRoot = path.resolve(fileURLToPath(import.meta.url), '../../../..');
const modelDir = path.resolve(repoRoot, '../shared/models/stories260K');
/** The first line of the model's greedy story from BOS (its README). */
const GOLDEN =
  'Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball. She wanted to play with it, but it was too high.';

let library: Generator;
let engine: Engine;
let server: LmflowServer;
let client: OpenAI;
const log: string[] = [];

beforeAll(async () => {
  [library, engine] = await Promise.all([loadGenerator(modelDir), workerEngine({ modelNameOrPath: modelDir })]);
  server = createServer({ engine, port: 0, maxConcurrency: 8, maxQueue: 32, log: (line) => log.push(line) });
  const { url } = await server.listen();
  client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0 });
});
afterAll(async () => {
  await server?.close({ abort: true });
  await engine?.close();
  library?.model.dispose();
});

const greedy = (maxNewTokens: number) => ({ maxNewTokens, doSample: false });

describe('stories260K behind the OpenAI API', () => {
  it('lists the model by its folder name, with its context length', async () => {
    const { data } = await client.models.list();
    expect(data).toEqual([{ id: 'stories260K', object: 'model', created: expect.any(Number), owned_by: 'lmflow', max_model_len: 512 }]);
  });

  it('completes greedily with the same text as the library, whole and streamed, and the golden story from BOS', async () => {
    const fromBos = await client.completions.create({ model: 'stories260K', prompt: '', max_tokens: 64, temperature: 0 });
    expect(fromBos.choices[0]!.text.startsWith(GOLDEN)).toBe(true);
    expect(fromBos.usage).toEqual({ prompt_tokens: 1, completion_tokens: 64, total_tokens: 65 });

    const prompt = 'Once upon a time, there was a little dog named';
    const expected = await library.generate(prompt, greedy(40));
    const whole = await client.completions.create({ model: 'stories260K', prompt, max_tokens: 40, temperature: 0 });
    expect(whole.choices[0]).toMatchObject({ text: expected.text, finish_reason: 'length' });
    expect(whole.usage).toEqual({ prompt_tokens: expected.usage.promptTokens, completion_tokens: 40, total_tokens: expected.usage.promptTokens + 40 });

    const stream = await client.completions.create({ model: 'stories260K', prompt, max_tokens: 40, temperature: 0, stream: true, stream_options: { include_usage: true } });
    let text = '';
    let pieces = 0;
    let usage;
    for await (const chunk of stream) {
      if (chunk.choices[0]?.text) pieces += 1;
      text += chunk.choices[0]?.text ?? '';
      usage = chunk.usage ?? usage;
    }
    expect(text).toBe(expected.text);
    expect(pieces).toBeGreaterThan(10);
    expect(usage).toEqual({ prompt_tokens: expected.usage.promptTokens, completion_tokens: 40, total_tokens: expected.usage.promptTokens + 40 });

    // A stop string ends the text before it, as in the library.
    const stopped = await client.completions.create({ model: 'stories260K', prompt: '', max_tokens: 100, temperature: 0, stop: ['ball'] });
    expect(stopped.choices[0]).toMatchObject({ text: (await library.generate('', { ...greedy(100), stop: ['ball'] })).text, finish_reason: 'stop' });
    expect(stopped.choices[0]!.text.endsWith('a big, red ')).toBe(true);
  });

  it('answers chats greedily with the same text as the library, whole and streamed', async () => {
    // The model has no chat template, so conversations use LMFlow's "empty" preset (no system role).
    const messages = [
      { role: 'user' as const, content: 'Tell me about a cat.' },
      { role: 'assistant' as const, content: 'The cat was happy.' },
      { role: 'user' as const, content: 'What did the cat do next?' },
    ];
    const expected = library.chat(messages, greedy(50));
    for await (const _ of expected);
    const { text: expectedText, usage } = await expected.result;
    expect(expectedText.length).toBeGreaterThan(20);

    const whole = await client.chat.completions.create({ model: 'stories260K', messages, max_tokens: 50, temperature: 0 });
    expect(whole.choices[0]!.message).toMatchObject({ role: 'assistant', content: expectedText });
    expect(whole.usage?.prompt_tokens).toBe(usage.promptTokens);
    expect(whole.usage?.prompt_tokens).toBe(library.applyChatTemplate(messages).length);

    const stream = await client.chat.completions.create({ model: 'stories260K', messages, max_completion_tokens: 50, temperature: 0, stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe(expectedText);
  });

  it('refuses max_tokens beyond the context, counted with the real tokenizer', async () => {
    const prompt = 'Once upon a time';
    const promptTokens = library.encodePrompt(prompt).length;
    const refused = await client.completions.create({ model: 'stories260K', prompt, max_tokens: 512 - promptTokens + 1 }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(OpenAI.BadRequestError);
    expect((refused as InstanceType<typeof OpenAI.BadRequestError>).error).toMatchObject({ param: 'max_tokens', code: 'context_length_exceeded' });
    const fits = await client.completions.create({ model: 'stories260K', prompt, max_tokens: 512 - promptTokens, temperature: 0 });
    expect(fits.usage!.prompt_tokens + fits.usage!.completion_tokens).toBeLessThanOrEqual(512);
    const systemRefused = await client.chat.completions.create({ model: 'stories260K', messages: [{ role: 'system', content: 'a' }, { role: 'user', content: 'b' }] }).catch((e: unknown) => e);
    expect((systemRefused as InstanceType<typeof OpenAI.BadRequestError>).error).toMatchObject({
      param: 'messages',
      code: 'invalid_prompt',
      message: '"system" is given, but conversation template "empty" has no system role; remove the system prompt or choose a template that has one (llama3, chatml, ...)',
    });
    // A conversation the template cannot render is the request's fault: a 400 on messages.
    const outOfOrder = await client.chat.completions.create({ model: 'stories260K', messages: [{ role: 'user', content: 'a' }, { role: 'user', content: 'b' }] }).catch((e: unknown) => e);
    expect((outOfOrder as InstanceType<typeof OpenAI.BadRequestError>).error).toMatchObject({
      param: 'messages',
      message: 'chat: messages[1].role is "user", expected "assistant" (turns alternate user, assistant, ... after an optional system message)',
    });
  });

  it('serves 32 concurrent streams, each with its own greedy text, while /health stays responsive', async () => {
    // prettier-ignore
    const prompts = ['The cat', 'A boy', 'One day', 'Tim had', 'Sue went', 'The sun', 'A big bird', 'Mom said', 'The tree', 'Lily wanted', 'Ben and',
      'The dog ran', 'Once', 'It was', 'They played', 'The car', 'A little fish', 'The girl', 'Dad was', 'The ball', 'Max liked', 'In the park',
      'The moon', 'Anna saw', 'The box', 'A small bunny', 'The rain', 'Sam found', 'The king', 'Jack and Jill', 'A red boat', 'The old man'];
    const expected = [];
    for (const prompt of prompts) expected.push((await library.generate(prompt, greedy(24))).text);
    // Different prompts, different answers: a mix-up between streams would show.
    expect(new Set(expected).size).toBeGreaterThanOrEqual(28);

    let peak = { running: 0, waiting: 0 };
    const healthTimes: number[] = [];
    let streaming = true;
    const probe = (async () => {
      while (streaming) {
        const t = performance.now();
        const health = (await (await fetch(`${server.url}/health`)).json()) as { status: string; running: number; waiting: number };
        healthTimes.push(performance.now() - t);
        expect(health.status).toBe('ok');
        if (health.running + health.waiting > peak.running + peak.waiting) peak = { running: health.running, waiting: health.waiting };
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    const texts = await Promise.all(
      prompts.map(async (prompt) => {
        const stream = await client.completions.create({ model: 'stories260K', prompt, max_tokens: 24, temperature: 0, stream: true });
        let text = '';
        for await (const chunk of stream) text += chunk.choices[0]?.text ?? '';
        return text;
      }),
    );
    streaming = false;
    await probe;
    expect(texts).toEqual(expected);
    // All 32 were in the server at once: 8 generating, the rest queued.
    expect(peak.running).toBe(8);
    expect(peak.waiting).toBeGreaterThan(0);
    expect(healthTimes.length).toBeGreaterThan(3);
    expect(Math.max(...healthTimes)).toBeLessThan(500);
  });

  it('stops the worker generation of a client that disconnects mid-stream, and serves the next', async () => {
    const controller = new AbortController();
    const stream = await client.completions.create({ model: 'stories260K', prompt: '', max_tokens: 500, temperature: 0, stream: true }, { signal: controller.signal });
    let pieces = 0;
    try {
      for await (const chunk of stream) {
        if (chunk.choices[0]?.text) pieces += 1;
        if (pieces === 5) controller.abort();
      }
    } catch (error) {
      expect((error as Error).name).toMatch(/Abort/);
    }
    const deadline = Date.now() + 5000;
    while (!log.some((line) => line.includes(', abort,')) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    const line = log.find((l) => l.includes(', abort,'))!;
    expect(line).toMatch(/^completion: 1 prompt \+ \d+ generated tokens, abort, \d+ ms$/);
    expect(Number(/\+ (\d+) generated/.exec(line)![1])).toBeLessThan(500);
    expect(server.load).toEqual({ running: 0, waiting: 0 });
    const next = await client.completions.create({ model: 'stories260K', prompt: '', max_tokens: 64, temperature: 0 });
    expect(next.choices[0]!.text.startsWith(GOLDEN)).toBe(true);
  });
});
