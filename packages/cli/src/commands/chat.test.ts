/**
 * `lmflow chat` for real: the CLI runs as a child process (from source, through tsx), the test
 * types into its stdin, reads its stdout and sends SIGINT mid-answer. Every answer must be what
 * the library's chat session gives for the same conversation (both on the reference backend).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadGenerator, type ChatMessage, type Generator } from '@lmflow/inference';

const repoRoot = path.resolve(fileURLToPath(import.meta.url), '../../../../..');
const model = path.resolve(repoRoot, '../shared/models/stories260K');
const MAX_NEW_TOKENS = 24;

let generator: Generator;
beforeAll(async () => {
  generator = await loadGenerator(model, { device: 'reference' });
});
afterAll(() => generator.model.dispose());

/** The library's answer to a conversation, as the chat command asks for it. */
async function libraryAnswer(messages: ChatMessage[]): Promise<string> {
  return (await generator.chat(messages, { maxNewTokens: MAX_NEW_TOKENS }).result).text;
}

interface Chat {
  child: ChildProcessWithoutNullStreams;
  stdout: () => string;
  stderr: () => string;
  /** Resolves once `check` holds for the output so far. */
  until(check: () => boolean, what: string): Promise<void>;
  exited: Promise<number | null>;
}

function startChat(args: string[]): Chat {
  const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=lmflow-source', 'packages/cli/src/main.ts', 'chat', ...args], {
    cwd: repoRoot,
    env: { ...process.env, NO_COLOR: '1', LMFLOW_DEBUG: '' },
  });
  let out = '';
  let err = '';
  const waiters: { check: () => boolean; resolve: () => void }[] = [];
  const poke = () => {
    for (const w of [...waiters]) if (w.check()) waiters.splice(waiters.indexOf(w), 1) && w.resolve();
  };
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString('utf8');
    poke();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    err += chunk.toString('utf8');
    poke();
  });
  // 'close': the process exited and its output has been read to the end.
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    until: (check, what) =>
      new Promise<void>((resolve, reject) => {
        if (check()) return resolve();
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}; stdout: ${JSON.stringify(out)}; stderr: ${JSON.stringify(err)}`)), 45_000);
        waiters.push({ check, resolve: () => (clearTimeout(timer), resolve()) });
      }),
    exited,
  };
}

const prompts = (text: string) => text.split('>>> ').length - 1;

describe('lmflow chat (a child process on stdin/stdout)', () => {
  it('streams answers, keeps the conversation, /reset, /system and multi-line input; Ctrl-C twice at the prompt quits', async () => {
    const chat = startChat(['--model_name_or_path', model, '--device', 'reference', '--max_new_tokens', String(MAX_NEW_TOKENS)]);
    try {
      // stdout and stderr are two pipes: what the child wrote to each arrives in no fixed order,
      // so every check of stderr waits for its line.
      await chat.until(() => prompts(chat.stdout()) === 1 && chat.stderr().includes('/help lists the commands'), 'the first prompt');

      // Turn 1: a whole answer.
      chat.child.stdin.write('Tom had a dog.\n');
      await chat.until(() => prompts(chat.stdout()) === 2 && chat.stderr().includes('(answer cut at the token limit'), 'the first answer');
      const answer1 = chat.stdout().split('>>> ')[1]!.replace(/\n$/, '');
      const history: ChatMessage[] = [{ role: 'user', content: 'Tom had a dog.' }];
      expect(answer1).toBe(await libraryAnswer(history));
      expect(answer1.length).toBeGreaterThan(10);
      history.push({ role: 'assistant', content: answer1 });

      // Turn 2: the first exchange is part of the prompt.
      chat.child.stdin.write('The end.\n');
      await chat.until(() => prompts(chat.stdout()) === 3, 'the second answer');
      history.push({ role: 'user', content: 'The end.' });
      const answer2 = chat.stdout().split('>>> ')[2]!.replace(/\n$/, '');
      expect(answer2).toBe(await libraryAnswer(history));
      expect(answer2).not.toBe(await libraryAnswer(history.slice(2)));

      // /reset, then a message over two lines ("\" at the end of a line continues it).
      chat.child.stdin.write('/reset\nThe cat\\\nsat.\n');
      // A prompt after /reset, "... " after the first line, then the answer and the next prompt.
      await chat.until(() => prompts(chat.stdout()) === 5 && chat.stderr().includes('(conversation cleared)'), 'the answer after /reset');
      expect(chat.stdout().split('>>> ')[4]).toMatch(/^\.\.\. /);
      const multiLine = chat.stdout().split('>>> ')[4]!.slice('... '.length).replace(/\n$/, '');
      expect(multiLine).toBe(await libraryAnswer([{ role: 'user', content: 'The cat\nsat.' }]));

      // /system on a template without a system role is refused, and the chat goes on.
      chat.child.stdin.write('/system Be kind.\n');
      await chat.until(() => prompts(chat.stdout()) === 6 && chat.stderr().includes('error:'), 'the /system error');
      expect(chat.stderr()).toContain('error: "system" is given, but conversation template "empty" has no system role');

      // Ctrl-C at the prompt warns; a second one quits with status 0.
      chat.child.kill('SIGINT');
      await chat.until(() => chat.stderr().includes('(Ctrl-C again or Ctrl-D to quit)'), 'the quit hint');
      chat.child.kill('SIGINT');
      expect(await chat.exited).toBe(0);
    } finally {
      chat.child.kill('SIGKILL');
    }
  });

  it('Ctrl-C (SIGINT) mid-answer stops that answer and keeps the chat; the stopped answer stays in the history', async () => {
    // Answers of up to LONG tokens take seconds on the reference backend (stories260K writes on
    // without an end token), so the signal always lands mid-answer, however slow the machine.
    const LONG = 400;
    const chat = startChat(['--model_name_or_path', model, '--device', 'reference', '--max_new_tokens', String(LONG)]);
    /** The library's answer, read only as far as `length` characters and one more delta. */
    const libraryPrefix = async (messages: ChatMessage[], length: number) => {
      const stream = generator.chat(messages, { maxNewTokens: LONG });
      let text = '';
      for await (const delta of stream) {
        text += delta.text;
        if (text.length > length) break;
      }
      return text;
    };
    try {
      await chat.until(() => prompts(chat.stdout()) === 1, 'the first prompt');
      const history: ChatMessage[] = [];
      for (const [turn, message] of ['Once upon a time', 'The end.'].entries()) {
        chat.child.stdin.write(`${message}\n`);
        await chat.until(() => (chat.stdout().split('>>> ')[turn + 1] ?? '').length > 0, `answer ${turn + 1} to start`);
        chat.child.kill('SIGINT');
        const stoppedNotes = () => chat.stderr().split('(answer stopped)').length - 1;
        await chat.until(() => prompts(chat.stdout()) === turn + 2 && stoppedNotes() === turn + 1, `the prompt and the note after stopped answer ${turn + 1}`);
        const stopped = chat.stdout().split('>>> ')[turn + 1]!.replace(/\n$/, '');
        history.push({ role: 'user', content: message });
        // What was shown is the start of the library's answer to the same history, and it was cut.
        const full = await libraryPrefix(history, stopped.length);
        expect(full.startsWith(stopped), `${JSON.stringify(stopped)} starts ${JSON.stringify(full)}`).toBe(true);
        expect(full.length).toBeGreaterThan(stopped.length);
        history.push({ role: 'assistant', content: stopped });
      }
      chat.child.stdin.end();
      expect(await chat.exited).toBe(0);
      // Every signal stopped an answer: none reached the prompt (where it would ask to quit).
      expect(chat.stderr()).not.toContain('(Ctrl-C again');
      expect(chat.stderr().split('(answer stopped)').length - 1).toBe(2);
    } finally {
      chat.child.kill('SIGKILL');
    }
  });

  it('Ctrl-D (end of input) quits with status 0', async () => {
    const chat = startChat(['--model_name_or_path', model, '--max_new_tokens', '4']);
    try {
      await chat.until(() => prompts(chat.stdout()) === 1, 'the first prompt');
      chat.child.stdin.end('Hi\n');
      expect(await chat.exited).toBe(0);
      expect(prompts(chat.stdout())).toBe(2);
    } finally {
      chat.child.kill('SIGKILL');
    }
  });
});
