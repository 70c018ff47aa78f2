/**
 * The chat page in a real browser: Debian's Chromium, headless, driven by playwright-core. A
 * user sets temperature 0 and max tokens, types a message, sees the answer stream in (partial
 * text on screen while the model still writes), asks a follow-up in the same conversation, and
 * gets exactly the library's greedy answers. The page loads nothing from anywhere but the
 * server, and its CSP reports no violation.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadGenerator, type Generator } from '@lmflow/inference';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from './engine/engine.js';
import { workerEngine } from './engine/worker-engine.js';
import { createServer, type LmflowServer } from './server.js';

const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.warn(`web page test skipped: Chromium is not installed at ${CHROMIUM} (apt-get install chromium; .ci/run installs it)`);

const repoRoot = path.resolve(fileURLToPath(import.meta.url), '../../../..');
const modelDir = path.resolve(repoRoot, '../shared/models/stories260K');

let library: Generator;
let engine: Engine;
let server: LmflowServer;
let browser: BrowserContext;
let profile: string;

beforeAll(async () => {
  if (!hasChromium) return;
  profile = mkdtempSync(path.join(tmpdir(), 'lmflow-chromium-'));
  [library, engine, browser] = await Promise.all([
    loadGenerator(modelDir),
    workerEngine({ modelNameOrPath: modelDir }),
    // Debian's Chromium as root needs --no-sandbox; the networking flags keep it from calling
    // Google's services, which this machine cannot reach.
    chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    }),
  ]);
  server = createServer({ engine, port: 0 });
  await server.listen();
});
afterAll(async () => {
  await browser?.close();
  await server?.close({ abort: true });
  await engine?.close();
  library?.model.dispose();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

async function libraryChat(messages: { role: 'user' | 'assistant'; content: string }[], maxNewTokens: number): Promise<string> {
  const stream = library.chat(messages, { maxNewTokens, doSample: false });
  for await (const _ of stream);
  return (await stream.result).text;
}

describe('the web chat page in headless Chromium', () => {
  it.skipIf(!hasChromium)('streams an answer to a typed message and keeps the conversation', async () => {
    const page = await browser.newPage();
    const requests: string[] = [];
    const problems: string[] = [];
    page.on('request', (request) => requests.push(request.url()));
    page.on('console', (message) => message.type() === 'error' && problems.push(message.text()));
    page.on('pageerror', (error) => problems.push(error.message));

    await page.goto(server.url);
    await expect.poll(() => page.textContent('#model')).toBe('stories260K');

    // Settings: greedy, and long enough that the stream is seen while it runs.
    await page.click('#settings summary');
    await page.fill('#temperature', '0');
    expect(await page.textContent('#temperature-value')).toBe('0');
    await page.fill('#max-tokens', '150');

    const first = 'Tell me about a dog.';
    await page.fill('#prompt', first);
    await page.press('#prompt', 'Enter');
    const answer = page.locator('.message.assistant').first();
    // Part of the answer is on screen while it is still streaming.
    // A function, not a string: the page's CSP forbids eval. It runs in the page; this package
    // compiles without the DOM's types, hence the minimal shape of `document`.
    await page.waitForFunction(() => {
      type Element = { classList: { contains(name: string): boolean }; querySelector(selector: string): Element | null; textContent: string | null };
      const { document } = globalThis as unknown as { document: { querySelector(selector: string): Element | null } };
      const bubble = document.querySelector('.message.assistant');
      return bubble !== null && bubble.classList.contains('streaming') && (bubble.querySelector('.text')?.textContent ?? '').length > 0;
    });
    const partial = (await answer.locator('.text').textContent())!;
    await expect.poll(() => answer.getAttribute('class'), { timeout: 30_000 }).toBe('message assistant');
    const firstAnswer = await libraryChat([{ role: 'user', content: first }], 150);
    expect(await answer.locator('.text').textContent()).toBe(firstAnswer);
    expect(firstAnswer.startsWith(partial) && partial.length < firstAnswer.length).toBe(true);
    expect(await page.textContent('.message.user')).toBe(first);

    // A follow-up is answered in the context of the whole conversation.
    const second = 'What did the dog eat?';
    await page.fill('#prompt', second);
    await page.click('#send');
    const secondBubble = page.locator('.message.assistant').nth(1);
    await expect.poll(async () => (await secondBubble.getAttribute('data-finish-reason')) ?? (await page.textContent('#status')), { timeout: 30_000 }).toBe('length');
    const expectedSecond = await libraryChat(
      [
        { role: 'user', content: first },
        { role: 'assistant', content: firstAnswer },
        { role: 'user', content: second },
      ],
      150,
    );
    expect(await secondBubble.locator('.text').textContent()).toBe(expectedSecond);
    expect(await page.locator('.message').count()).toBe(4);

    // A reload keeps the conversation (sessionStorage); New chat forgets it.
    await page.reload();
    await expect.poll(() => page.locator('.message').count()).toBe(4);
    await page.click('#new-chat');
    expect(await page.locator('.message').count()).toBe(0);

    const origin = new URL(server.url).origin;
    expect(requests.length).toBeGreaterThan(4);
    expect(requests.filter((url) => !url.startsWith(`${origin}/`))).toEqual([]);
    expect(problems).toEqual([]);
    await page.close();
  });
});
