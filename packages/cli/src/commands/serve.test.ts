/**
 * `lmflow serve` as a real process: it serves the OpenAI API with the flags given (API key
 * under its --api-key spelling, a conversation template), and on SIGTERM stops accepting,
 * lets the running stream finish whole, then exits 0. Bad flags fail before the model loads.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadGenerator } from '@lmflow/inference';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { runCli } from '../index.js';
import { memoryIo } from '../test-io.js';

const repoRoot = path.resolve(fileURLToPath(import.meta.url), '../../../../..');
const stories260K = path.resolve(repoRoot, '../shared/models/stories260K');

async function lmflowInProcess(argv: string[]) {
  const io = memoryIo({ cwd: repoRoot });
  const status = await runCli(['serve', ...argv], io);
  return { status, out: io.out(), err: io.err() };
}

describe('lmflow serve', () => {
  it('checks every flag before loading the model', async () => {
    const base = ['--model_name_or_path', stories260K];
    expect(await lmflowInProcess(['--port', '70000', ...base])).toEqual({ status: 2, out: '', err: 'lmflow serve: error: --port: expected an integer >= 0 and <= 65535, got 70000\n' });
    expect((await lmflowInProcess(['--max_concurrency', '0', ...base])).err).toBe('lmflow serve: error: --max_concurrency: expected an integer >= 1, got 0\n');
    const typo = await lmflowInProcess(['--conversation_template', 'chatmI', ...base]);
    expect(typo.status).toBe(2);
    expect(typo.err).toMatch(/^lmflow serve: error: --conversation_template: expected one of .*, got "chatmI"; did you mean "chatml"\?\n$/);
    expect((await lmflowInProcess(['--api_key', ' ', ...base])).err).toBe('lmflow serve: error: --api_key: expected a non-empty key, got " "\n');
    expect((await lmflowInProcess(['--device', 'gpu', ...base])).err).toBe('lmflow serve: error: --device: expected cpu, reference or cuda:N, got "gpu"\n');
    expect((await lmflowInProcess([])).err).toBe('lmflow serve: error: missing required option --model_name_or_path; set it with --model_name_or_path or in a --config file\n');
  });

  it('fails with the loader\'s message when the model folder is not a model', async () => {
    const result = await lmflowInProcess(['--model_name_or_path', path.resolve(repoRoot, '../shared/data'), '--port', '0']);
    expect(result.status).toBe(1);
    expect(result.err).toBe(
      `loading ${path.resolve(repoRoot, '../shared/data')} ...\nlmflow serve: error: tokenizer ${path.resolve(repoRoot, '../shared/data')}: no tokenizer.json; ` +
        'LMFlow.ts reads Hugging Face fast tokenizers. A slow one (tokenizer.model) converts with transformers: AutoTokenizer.from_pretrained(path).save_pretrained(path)\n',
    );
  });

  it('serves as a process and, on SIGTERM, finishes the running stream and exits 0', async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--conditions=lmflow-source', 'packages/cli/src/main.ts', 'serve', '--model_name_or_path', stories260K, '--port', '0', '--api-key', 'sk-test', '--conversation_template', 'llama2', '--max_concurrency', '1'],
      { cwd: repoRoot, env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const deadline = Date.now() + 40_000;
      while (!stderr.includes('press Ctrl-C')) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`lmflow serve did not start:\n${stderr}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const url = /at (http:\/\/127\.0\.0\.1:\d+)\n/.exec(stderr)![1]!;
      const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'sk-test', maxRetries: 0 });
      const library = await loadGenerator(stories260K);

      // The conversation template flag reaches the engine: the answer is the library's with llama2.
      const messages = [{ role: 'system' as const, content: 'You are kind.' }, { role: 'user' as const, content: 'Tell me a story.' }];
      const expectedChat = library.chat(messages, { maxNewTokens: 30, doSample: false, conversationTemplate: 'llama2' });
      for await (const _ of expectedChat);
      const chat = await client.chat.completions.create({ model: 'stories260K', messages, max_tokens: 30, temperature: 0 });
      expect(chat.choices[0]!.message.content).toBe((await expectedChat.result).text);
      expect(chat.usage!.prompt_tokens).toBe(library.applyChatTemplate(messages, { conversationTemplate: 'llama2' }).length);
      expect(await new OpenAI({ baseURL: `${url}/v1`, apiKey: 'sk-wrong', maxRetries: 0 }).models.list().catch((e: unknown) => e)).toBeInstanceOf(OpenAI.AuthenticationError);

      // A long stream is running when SIGTERM arrives; it must finish whole.
      const expected = await library.generate('', { maxNewTokens: 400, doSample: false });
      library.model.dispose();
      const stream = await client.completions.create({ model: 'stories260K', prompt: '', max_tokens: 400, temperature: 0, stream: true });
      let text = '';
      let finish: string | null = null;
      let signalled = false;
      let refusedAfterSignal: unknown;
      for await (const chunk of stream) {
        text += chunk.choices[0]?.text ?? '';
        finish = chunk.choices[0]?.finish_reason ?? finish;
        if (!signalled && text.length > 0) {
          signalled = true;
          child.kill('SIGTERM');
          await new Promise((resolve) => setTimeout(resolve, 100));
          refusedAfterSignal = await fetch(`${url}/health`).then((r) => r.status, (e: unknown) => e);
        }
      }
      expect(text).toBe(expected.text);
      expect(finish).toBe('length');
      // The listening socket is closed at once: new connections are refused.
      expect(String((refusedAfterSignal as Error)?.cause ?? refusedAfterSignal)).toMatch(/ECONNREFUSED/);
      expect(await exit).toBe(0);
      expect(stderr).toMatch(/SIGTERM: stopping; finishing 1 running and 0 queued requests \(send it again to cancel them\)\n/);
      expect(stderr).toMatch(/completion: 1 prompt \+ 400 generated tokens, length, \d+ ms\nstopped\n$/);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
