/**
 * The HTTP layer against a fake engine whose timing the tests control: OpenAI's wire format
 * through the official `openai` client and raw fetch, every refusal (400/401/404/405/413/415/
 * 429) with OpenAI's error shape, cancellation on disconnect, and draining on close. The real
 * model's answers are checked in model-server.test.ts.
 */
import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { generatorEngine } from './engine/generator-engine.js';
import { CONTENT_SECURITY_POLICY } from './http/static-files.js';
import { createServer, type LmflowServer, type ServerOptions } from './server.js';
import { createFakeGenerator, fakeChatPrompt, fakeText, fakeTokenCount, type FakeGenerator } from './test-support/fake-generator.js';

const servers: LmflowServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close({ abort: true })));
});

async function start(options: Partial<ServerOptions> & { delayMs?: number; contextLength?: number } = {}) {
  const { delayMs, contextLength, ...serverOptions } = options;
  const fake = createFakeGenerator({ ...(delayMs !== undefined && { delayMs }), ...(contextLength !== undefined && { contextLength }) });
  const server = createServer({ engine: generatorEngine(fake, { modelId: 'fake-model' }), port: 0, ...serverOptions });
  servers.push(server);
  const { url } = await server.listen();
  const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: options.apiKey ?? 'unused', maxRetries: 0 });
  return { server, url, fake, client };
}

const post = (url: string, path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${url}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });

async function errorOf(response: Response) {
  return { status: response.status, body: (await response.json()) as { error: Record<string, unknown> } };
}

const messages = [
  { role: 'system' as const, content: 'Be brief.' },
  { role: 'user' as const, content: 'Tell me a story' },
];

describe('OpenAI API through the openai client', () => {
  it('lists the model and answers chat completions, whole and streamed, with usage', async () => {
    const { client, fake } = await start();
    const models = await client.models.list();
    expect(models.data).toEqual([expect.objectContaining({ id: 'fake-model', object: 'model', owned_by: 'lmflow' })]);
    expect((await client.models.retrieve('fake-model')).id).toBe('fake-model');

    const whole = await client.chat.completions.create({ model: 'fake-model', messages, max_tokens: 5, temperature: 0 });
    const promptTokens = fakeTokenCount(fakeChatPrompt(messages));
    expect(whole).toMatchObject({
      object: 'chat.completion',
      model: 'fake-model',
      choices: [{ index: 0, message: { role: 'assistant', content: fakeText(5) }, finish_reason: 'length' }],
      usage: { prompt_tokens: promptTokens, completion_tokens: 5, total_tokens: promptTokens + 5 },
    });
    expect(whole.id).toMatch(/^chatcmpl-[0-9a-f]{32}$/);
    // temperature 0 is greedy; OpenAI's defaults fill the rest (no top-k, no penalty).
    expect(fake.calls[0]).toMatchObject({
      kind: 'chat',
      prompt: fakeChatPrompt(messages),
      options: { maxNewTokens: 5, doSample: false, topK: 0, topP: 1, minP: 0, repetitionPenalty: 1, stop: [] },
    });

    const stream = await client.chat.completions.create({ model: 'fake-model', messages, max_completion_tokens: 7, stream: true, stream_options: { include_usage: true } });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks[0]!.choices[0]!.delta).toEqual({ role: 'assistant', content: '' });
    const content = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
    expect(content).toBe(fakeText(7));
    expect(chunks.slice(1, 8).map((c) => c.choices[0]!.delta.content)).toEqual(fakeText(7).match(/ ?[^ ]+/g));
    const finish = chunks[chunks.length - 2]!;
    expect(finish.choices[0]).toMatchObject({ delta: {}, finish_reason: 'length' });
    expect(chunks.slice(0, -2).every((c) => c.choices[0]!.finish_reason === null && c.usage === null)).toBe(true);
    expect(chunks[chunks.length - 1]).toMatchObject({ choices: [], usage: { prompt_tokens: promptTokens, completion_tokens: 7, total_tokens: promptTokens + 7 } });
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
    // Default sampling: OpenAI's temperature 1.
    expect(fake.calls[1]!.options).toMatchObject({ maxNewTokens: 7, doSample: true, temperature: 1 });
  });

  it('answers completions, whole and streamed, and maps the sampling parameters', async () => {
    const { client, fake } = await start();
    const whole = await client.completions.create({ model: 'fake-model', prompt: 'Hello there', max_tokens: 4, temperature: 0.5, top_p: 0.9, seed: 7 });
    expect(whole).toMatchObject({
      object: 'text_completion',
      choices: [{ index: 0, text: fakeText(4), finish_reason: 'length', logprobs: null }],
      usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 },
    });
    expect(whole.id).toMatch(/^cmpl-/);
    expect(fake.calls[0]).toMatchObject({ kind: 'text', prompt: 'Hello there', options: { maxNewTokens: 4, doSample: true, temperature: 0.5, topP: 0.9, seed: 7 } });

    // Default max_tokens of /v1/completions is OpenAI's 16; a stop string ends with "stop".
    const stream = await client.completions.create({ model: 'fake-model', prompt: 'Hi', stream: true, stop: ' fox', temperature: 0 });
    let text = '';
    let finish: string | null = null;
    for await (const chunk of stream) {
      expect(chunk.object).toBe('text_completion');
      text += chunk.choices[0]!.text;
      finish = chunk.choices[0]!.finish_reason ?? finish;
    }
    expect(text).toBe('Once upon a time there was a');
    expect(finish).toBe('stop');
    expect(fake.calls[1]!.options).toMatchObject({ maxNewTokens: 16, stop: [' fox'] });

    // vLLM's extensions reach the engine; "developer" is a system message.
    await client.chat.completions.create({
      model: 'fake-model',
      messages: [{ role: 'developer', content: 'rules' }, { role: 'user', content: [{ type: 'text', text: 'a' }, { type: 'text', text: 'b' }] }],
      max_tokens: 1,
      // @ts-expect-error: extra parameters of open-model servers
      top_k: 5, min_p: 0.05, repetition_penalty: 1.2,
    });
    expect(fake.calls[2]).toMatchObject({ prompt: 'system: rules\nuser: ab\nassistant:', options: { topK: 5, minP: 0.05, repetitionPenalty: 1.2 } });
  });

  it('streams in the exact SSE wire format, ending with [DONE]', async () => {
    const { url } = await start();
    const response = await post(url, '/v1/completions', { model: 'fake-model', prompt: 'x', max_tokens: 2, temperature: 0 });
    expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
    const streamed = await post(url, '/v1/completions', { model: 'fake-model', prompt: 'x', max_tokens: 2, temperature: 0, stream: true });
    expect(streamed.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const events = (await streamed.text()).split('\n\n');
    expect(events.pop()).toBe('');
    expect(events[events.length - 1]).toBe('data: [DONE]');
    const payloads = events.slice(0, -1).map((e) => {
      expect(e.startsWith('data: ')).toBe(true);
      return JSON.parse(e.slice(6)) as { choices: { text: string; finish_reason: string | null }[]; usage?: unknown };
    });
    expect(payloads.map((p) => [p.choices[0]!.text, p.choices[0]!.finish_reason])).toEqual([['Once', null], [' upon', null], ['', 'length']]);
    expect(payloads.every((p) => !('usage' in p))).toBe(true);
  });
});

describe('refusals', () => {
  it('answers bad bodies with 400 and an OpenAI error object naming the field', async () => {
    const { url, fake } = await start({ contextLength: 32 });
    const chat = (body: Record<string, unknown>) => post(url, '/v1/chat/completions', { model: 'fake-model', messages, ...body });
    // Sent one at a time, in order (each entry is [request, param, message]).
    const cases: [() => Promise<Response>, string, string][] = [
      [() => chat({ temperature: 3 }), 'temperature', 'temperature is 3, expected a number at least 0 and at most 2'],
      [() => chat({ temperature: 'hot' }), 'temperature', 'temperature is "hot", expected a number at least 0 and at most 2'],
      [() => chat({ max_tokens: 0 }), 'max_tokens', 'max_tokens is 0, expected an integer at least 1'],
      [() => chat({ max_tokens: 2.5 }), 'max_tokens', 'max_tokens is 2.5, expected an integer at least 1'],
      [() => chat({ top_p: 0 }), 'top_p', 'top_p is 0, expected a number above 0 and at most 1'],
      [() => chat({ n: 2 }), 'n', 'n is 2, but this server returns one choice per request; send 2 requests (they run concurrently)'],
      [() => chat({ presence_penalty: 0.5 }), 'presence_penalty', 'presence_penalty is 0.5, but only 0 is supported; use repetition_penalty (1 = off, 1.1 = a mild penalty) instead'],
      [() => chat({ stop: ['a', 'b', 'c', 'd', 'e'] }), 'stop', 'stop has 5 sequences, expected at most 4'],
      [() => chat({ stop: [''] }), 'stop', 'stop[0] is an empty string, expected at least one character'],
      [() => chat({ stream_options: { include_usage: true } }), 'stream_options', 'stream_options is only allowed when stream is true'],
      [() => chat({ logprobs: true }), 'logprobs', 'logprobs is true, but log-probabilities are not returned by this server; leave it out'],
      [() => chat({ temprature: 0.5 }), 'temprature', expect.stringMatching(/^unrecognized request argument "temprature" for \/v1\/chat\/completions; accepted: model, messages, /) as unknown as string],
      [() => chat({ messages: [] }), 'messages', 'messages is an empty list; expected at least one message'],
      [() => chat({ messages: 'hi' }), 'messages', 'messages is "hi", expected a list of {"role", "content"} objects'],
      [() => chat({ messages: [{ role: 'bot', content: 'x' }] }), 'messages[0].role', 'messages[0].role is "bot", expected one of system, developer, user, assistant'],
      [() => chat({ messages: [{ role: 'user' }] }), 'messages[0].content', 'messages[0].content is required: the message text'],
      [() => chat({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'x' } }] }] }), 'messages[0].content[0].type', 'messages[0].content[0].type is "image_url", but only "text" parts are supported (no images, audio or files)'],
      [() => chat({ messages: [{ role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }] }), 'messages[1].role', 'messages[1].role is "assistant"; the last message must be from the user, so the answer is the assistant\'s next turn'],
      [() => chat({ messages: [{ role: 'user', content: 'a', name: 'bob' }] }), 'messages[0].name', 'messages[0].name: unrecognized message field (participant names are not supported by chat templates)'],
      [() => chat({ tools: [{ type: 'function', function: { name: 'f' } }] }), 'tools', 'tools are not supported by this server (no tool calling); leave "tools" out'],
      [() => chat({ model: undefined }), 'model', 'model is required'],
      [() => chat({ max_tokens: 30 }), 'max_tokens', `This model's maximum context length is 32 tokens. However, you requested 40 tokens (10 in the messages, 30 in the completion); lower max_tokens to at most 22 or shorten the messages`],
      [() => post(url, '/v1/completions', { model: 'fake-model', prompt: [1, 2, 3] }), 'prompt', 'prompt is a list of token ids, which is not supported; send the text'],
      [() => post(url, '/v1/completions', { model: 'fake-model', prompt: ['a', 'b'] }), 'prompt', 'prompt is a list of 2 prompts; send one prompt per request (requests run concurrently)'],
      [() => post(url, '/v1/completions', { model: 'fake-model' }), 'prompt', 'prompt is required (a string; "" starts from the beginning-of-text token)'],
      [() => post(url, '/v1/completions', { model: 'fake-model', prompt: 'x', echo: true }), 'echo', 'echo is true, but echoing the prompt is not supported; leave it out'],
      [() => post(url, '/v1/completions', { model: 'fake-model', prompt: 'word '.repeat(40) }), 'prompt', "This model's maximum context length is 32 tokens, and the prompt alone is 41 tokens, which leaves no room for a completion; shorten the prompt"],
    ];
    for (const [request, param, message] of cases) {
      const { status, body } = await errorOf(await request());
      expect({ status, param: body.error.param, message: body.error.message }).toEqual({ status: 400, param, message });
      expect(body.error.type).toBe('invalid_request_error');
      expect(typeof body.error.code).toBe('string');
    }
    // max_tokens left out on chat: the rest of the context.
    await (await chat({ temperature: 0 })).json();
    expect(fake.calls.map((c) => c.options.maxNewTokens)).toEqual([32 - 10]);

    const notJson = await errorOf(await post(url, '/v1/chat/completions', '{"model": '));
    expect(notJson).toMatchObject({ status: 400, body: { error: { type: 'invalid_request_error', param: null, code: 'invalid_json' } } });
    expect(notJson.body.error.message).toMatch(/^the request body is not valid JSON: /);
    expect(await errorOf(await post(url, '/v1/chat/completions', '[1]'))).toMatchObject({ status: 400, body: { error: { message: 'the request body is an array, expected a JSON object' } } });
    expect(await errorOf(await post(url, '/v1/chat/completions', 'x', { 'Content-Type': 'text/plain' }))).toMatchObject({ status: 415, body: { error: { message: 'Content-Type is "text/plain", expected "application/json"' } } });
  });

  it('answers unknown models 404, unknown routes 404, wrong methods 405', async () => {
    const { url, client } = await start();
    const wrongModel = await client.chat.completions.create({ model: 'gpt-4o', messages }).catch((e: unknown) => e);
    expect(wrongModel).toBeInstanceOf(OpenAI.NotFoundError);
    expect((wrongModel as InstanceType<typeof OpenAI.NotFoundError>).error).toEqual({
      message: 'The model "gpt-4o" does not exist; this server serves "fake-model" (GET /v1/models)',
      type: 'invalid_request_error',
      param: 'model',
      code: 'model_not_found',
    });
    expect(await errorOf(await fetch(`${url}/v1/embeddings`, { method: 'POST' }))).toMatchObject({ status: 404, body: { error: { code: 'unknown_url' } } });
    const get = await fetch(`${url}/v1/chat/completions`);
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
    expect((await get.json()) as unknown).toEqual({ error: { message: 'GET is not allowed on /v1/chat/completions; use POST', type: 'invalid_request_error', param: null, code: 'method_not_allowed' } });
  });

  it('refuses bodies over the limit with 413, whether declared or streamed', async () => {
    const { url, fake } = await start({ maxBodyBytes: 1000 });
    const big = JSON.stringify({ model: 'fake-model', prompt: 'x'.repeat(2000) });
    const declared = await errorOf(await post(url, '/v1/completions', big));
    expect(declared).toEqual({
      status: 413,
      body: { error: { message: `request body is ${big.length} bytes, over the server's limit of 1000 bytes (lmflow serve --max_body_bytes)`, type: 'invalid_request_error', param: null, code: 'request_too_large' } },
    });
    // A chunked upload declares no length: refused once it passes the limit.
    const chunks = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 4; i++) controller.enqueue(new TextEncoder().encode(big.slice(i * 600, (i + 1) * 600)));
        controller.close();
      },
    });
    const streamed = await fetch(`${url}/v1/completions`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: chunks, duplex: 'half' } as RequestInit);
    expect(await errorOf(streamed)).toMatchObject({ status: 413, body: { error: { message: "request body is over 1000 bytes, over the server's limit of 1000 bytes (lmflow serve --max_body_bytes)" } } });
    expect(fake.calls).toHaveLength(0);
  });

  it('with an API key, answers 401 without the right Bearer token, on every /v1 route', async () => {
    const { url, fake } = await start({ apiKey: 'sk-right' });
    const wrong = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'sk-wrong', maxRetries: 0 });
    const refused = await wrong.chat.completions.create({ model: 'fake-model', messages }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(OpenAI.AuthenticationError);
    expect((refused as InstanceType<typeof OpenAI.AuthenticationError>).error).toEqual({ message: 'Incorrect API key provided', type: 'authentication_error', param: null, code: 'invalid_api_key' });
    const missing = await errorOf(await fetch(`${url}/v1/models`));
    expect(missing).toMatchObject({ status: 401, body: { error: { type: 'authentication_error', code: 'missing_api_key' } } });
    expect(missing.body.error.message).toContain('Authorization: Bearer <key>');
    expect((await errorOf(await fetch(`${url}/v1/models`, { headers: { Authorization: 'Basic abc' } }))).status).toBe(401);
    expect(fake.calls).toHaveLength(0);

    const right = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'sk-right', maxRetries: 0 });
    expect((await right.completions.create({ model: 'fake-model', prompt: 'a', max_tokens: 2 })).choices[0]!.text).toBe(fakeText(2));
    // Health and the page need no key; they hold nothing secret.
    expect((await fetch(`${url}/health`)).status).toBe(200);
    expect((await fetch(`${url}/`)).status).toBe(200);
  });
});

describe('load and lifecycle', () => {
  it('answers 429 when every slot is busy and the queue is full, then serves again', async () => {
    const { url, client, fake, server } = await start({ delayMs: 20, maxConcurrency: 1, maxQueue: 1 });
    const running = client.completions.create({ model: 'fake-model', prompt: 'a', max_tokens: 5 });
    const queued = client.completions.create({ model: 'fake-model', prompt: 'b', max_tokens: 5 });
    await waitFor(() => server.load.running === 1 && server.load.waiting === 1);
    const refused = await client.completions.create({ model: 'fake-model', prompt: 'c', max_tokens: 5 }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(OpenAI.RateLimitError);
    expect((refused as InstanceType<typeof OpenAI.RateLimitError>).error).toMatchObject({ type: 'rate_limit_error', code: 'queue_full', param: null });
    expect((refused as InstanceType<typeof OpenAI.RateLimitError>).headers.get('retry-after')).toBe('1');
    // /health stays responsive and reports the load.
    expect(await (await fetch(`${url}/health`)).json()).toEqual({ status: 'ok', model: 'fake-model', running: 1, waiting: 1 });

    expect((await running).choices[0]!.text).toBe(fakeText(5));
    expect((await queued).choices[0]!.text).toBe(fakeText(5));
    expect(fake.peakActive).toBe(1);
    expect(fake.calls.map((c) => c.prompt)).toEqual(['a', 'b']);
    expect((await client.completions.create({ model: 'fake-model', prompt: 'd', max_tokens: 1 })).choices[0]!.text).toBe('Once');
  });

  it('cancels the generation of a client that disconnects mid-stream and frees its slot', async () => {
    const { client, fake, server } = await start({ delayMs: 15, maxConcurrency: 1, maxQueue: 0, contextLength: 1000 });
    const controller = new AbortController();
    const stream = await client.chat.completions.create({ model: 'fake-model', messages, max_tokens: 500, stream: true }, { signal: controller.signal });
    let received = 0;
    try {
      for await (const chunk of stream) {
        if (chunk.choices[0]?.delta.content) received += 1;
        if (received === 3) controller.abort();
      }
    } catch (error) {
      expect((error as Error).name).toMatch(/Abort/);
    }
    expect(received).toBe(3);
    await waitFor(() => fake.calls[0]!.finishReason !== undefined && server.load.running === 0);
    expect(fake.calls[0]!.finishReason).toBe('abort');
    expect(fake.calls[0]!.tokensGenerated).toBeLessThan(20);
    // The one slot is free again: a following request is served, not refused.
    expect((await client.chat.completions.create({ model: 'fake-model', messages, max_tokens: 2 })).choices[0]!.message.content).toBe(fakeText(2));
  });

  it('also cancels a non-streamed request, and a queued one, when its client leaves', async () => {
    const { url, fake, server } = await start({ delayMs: 15, maxConcurrency: 1, maxQueue: 1, contextLength: 1000 });
    const first = new AbortController();
    const second = new AbortController();
    const body = (prompt: string) => JSON.stringify({ model: 'fake-model', prompt, max_tokens: 500 });
    const a = fetch(`${url}/v1/completions`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: body('a'), signal: first.signal }).catch((e: unknown) => e);
    await waitFor(() => server.load.running === 1);
    const b = fetch(`${url}/v1/completions`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: body('b'), signal: second.signal }).catch((e: unknown) => e);
    await waitFor(() => server.load.waiting === 1);
    second.abort();
    await waitFor(() => server.load.waiting === 0);
    first.abort();
    await Promise.all([a, b]);
    await waitFor(() => server.load.running === 0 && fake.calls[0]!.finishReason !== undefined);
    expect(fake.calls.map((c) => [c.prompt, c.finishReason])).toEqual([['a', 'abort']]);
    // Nothing is left hanging: the connections the client left (and any it opened since
    // without a request) close at once, not after close()'s grace period of 2 s.
    const closing = performance.now();
    await server.close();
    expect(performance.now() - closing).toBeLessThan(1000);
  });

  it('close({ abort: true }) stops running and queued requests with 503 shutting_down', async () => {
    const { url, fake, server } = await start({ delayMs: 15, maxConcurrency: 1, maxQueue: 1, contextLength: 1000 });
    const request = (prompt: string, stream: boolean) => post(url, '/v1/completions', { model: 'fake-model', prompt, max_tokens: 500, stream });
    const running = request('a', true);
    await waitFor(() => server.load.running === 1);
    const queued = request('b', false);
    await waitFor(() => server.load.waiting === 1);
    const closed = server.close({ abort: true });
    // The queued request never started; it is answered 503, not left without an answer.
    expect(await errorOf(await queued)).toMatchObject({ status: 503, body: { error: { type: 'service_unavailable', code: 'shutting_down' } } });
    // The stream ends with the error as its last event, then [DONE].
    const events = (await (await running).text()).trim().split('\n\n');
    expect(events[events.length - 1]).toBe('data: [DONE]');
    expect(JSON.parse(events[events.length - 2]!.slice('data: '.length))).toEqual({
      error: { message: 'the generation was stopped because the server is shutting down', type: 'service_unavailable', param: null, code: 'shutting_down' },
    });
    await closed;
    expect(fake.calls.map((c) => [c.prompt, c.finishReason])).toEqual([['a', 'abort']]);
  });

  it('close() refuses new requests with 503, lets running ones finish, then releases the port', async () => {
    const { url, client, server } = await start({ delayMs: 10 });
    const running = client.completions.create({ model: 'fake-model', prompt: 'a', max_tokens: 10, stream: true });
    await waitFor(() => server.load.running === 1);
    const closed = server.close();
    const late = await fetch(`${url}/v1/completions`, { method: 'POST', body: '{}' }).catch((e: unknown) => e);
    if (late instanceof Response) {
      expect(late.status).toBe(503);
      expect(((await late.json()) as { error: { code: string } }).error.code).toBe('shutting_down');
    } else {
      expect(String((late as Error).cause ?? late)).toMatch(/ECONNREFUSED|ECONNRESET|other side closed/);
    }
    let text = '';
    for await (const chunk of await running) text += chunk.choices[0]!.text;
    expect(text).toBe(fakeText(10));
    await closed;
    await expect(fetch(`${url}/health`)).rejects.toThrow();
  });
});

describe('the web page', () => {
  it('is served with content types, a strict CSP and nothing from elsewhere', async () => {
    const { url } = await start();
    const page = await fetch(`${url}/`);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toBe(CONTENT_SECURITY_POLICY);
    expect(CONTENT_SECURITY_POLICY).toContain("default-src 'none'");
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    const html = await page.text();
    const referenced = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
    expect(referenced).toEqual(['/favicon.svg', '/chat.css', '/chat.js']);
    for (const [path, type] of [['/chat.js', 'text/javascript; charset=utf-8'], ['/chat.css', 'text/css; charset=utf-8'], ['/favicon.svg', 'image/svg+xml']]) {
      const response = await fetch(`${url}${path}`);
      expect([path, response.status, response.headers.get('content-type')]).toEqual([path, 200, type]);
      // Nothing loads from another origin (the SVG namespace is a name, not a load).
      expect((await response.text()).replace('xmlns="http://www.w3.org/2000/svg"', '')).not.toMatch(/https?:\/\/|\/\/[a-z]/);
    }
    const head = await fetch(`${url}/chat.js`, { method: 'HEAD' });
    expect([head.status, await head.text()]).toEqual([200, '']);
    expect((await fetch(`${url}/missing.js`)).status).toBe(404);
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`waitFor: condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
