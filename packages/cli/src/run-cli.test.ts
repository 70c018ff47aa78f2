import { readFileSync } from 'node:fs';
import { ConfigError, defineOptions } from '@lmflow/core';
import { describe, expect, it } from 'vitest';
import { defineCommand, runCli, type Command } from './index.js';
import { memoryIo } from './test-io.js';

class DatasetError extends Error {
  override name = 'DatasetError';
}

const runs: Record<string, unknown>[] = [];
const greet = defineCommand({
  name: 'greet',
  summary: 'Say hello.',
  examples: ['lmflow greet --name Ada --times 2'],
  options: [
    defineOptions('Greeting', {
      name: { type: 'string', required: true, description: 'Who to greet.' },
      times: { type: 'integer', default: 1, min: 1, description: 'How many times.' },
      shout: { type: 'boolean', default: false, description: 'Upper case.' },
    }),
  ],
  run(config, { io, color, log }) {
    runs.push({ ...config, color });
    const line = `hello ${config.name}`;
    for (let i = 0; i < config.times; i++) io.stdout.write(`${config.shout ? line.toUpperCase() : line}\n`);
    log('greeted');
  },
});
const failUser = defineCommand({
  name: 'fail user',
  summary: 'Fails with a user mistake.',
  options: [],
  run() {
    throw new DatasetError('dataset data/train.json: instance 17: "messages[2].role" is "bot", expected "user" or "assistant"');
  },
});
const failBug = defineCommand({
  name: 'fail bug',
  summary: 'Fails with a bug.',
  options: [],
  async run() {
    const missing = undefined as unknown as { field: number };
    missing.field += 1;
  },
});
const failUsage = defineCommand({
  name: 'fail usage',
  summary: 'Fails with a flag combination.',
  options: [],
  run() {
    throw new ConfigError('--to paired_conversation needs --from sharegpt or alpaca preference records');
  },
});
const fixtures: readonly Command[] = [greet, failUser, failBug, failUsage];
const run = async (argv: string[], options: Parameters<typeof memoryIo>[0] = {}) => {
  const io = memoryIo(options);
  const status = await runCli(argv, io, { commands: fixtures });
  return { status, out: io.out(), err: io.err() };
};
const version = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

describe('runCli', () => {
  it('runs a command with validated, typed options; logs go to stderr', async () => {
    runs.length = 0;
    const result = await run(['greet', '--name', 'Ada', '--times=2', '--shout']);
    expect(result).toEqual({ status: 0, out: 'HELLO ADA\nHELLO ADA\n', err: 'greeted\n' });
    expect(runs).toEqual([{ name: 'Ada', times: 2, shout: true, color: false }]);
  });

  it('lmflow --help lists every command with its summary; no command prints it to stderr with status 2', async () => {
    for (const argv of [['--help'], ['-h'], ['help']]) {
      const result = await run(argv);
      expect(result.status).toBe(0);
      expect(result.out).toContain(`lmflow ${version}: finetune and run large language models`);
      expect(result.out).toMatch(/^Commands:\n  greet          Say hello\.\n  fail user      Fails with a user mistake\.\n  fail bug       Fails with a bug\.\n  fail usage     Fails with a flag combination\.\n\nOptions:\n  -h, --help     Show this help\.\n  -v, --version  Print the version\.$/m);
    }
    const bare = await run([]);
    expect(bare.status).toBe(2);
    expect(bare.out).toBe('');
    expect(bare.err).toContain('Commands:\n  greet');
  });

  it('lmflow --version prints the package version', async () => {
    expect(await run(['--version'])).toEqual({ status: 0, out: `${version}\n`, err: '' });
    expect((await run(['-v'])).out).toBe(`${version}\n`);
  });

  it('lmflow <cmd> --help shows usage, examples and every flag with type and default, and runs nothing', async () => {
    runs.length = 0;
    for (const argv of [['greet', '--help'], ['greet', '--name', 'x', '-h'], ['help', 'greet']]) {
      const result = await run(argv);
      expect(result.status).toBe(0);
      expect(result.out).toBe(
        [
          'Usage: lmflow greet [options]',
          '       lmflow greet --config <file> [options]',
          '',
          'Say hello.',
          '',
          'Examples:',
          '  lmflow greet --name Ada --times 2',
          '',
          'Greeting:',
          '  --name <string>',
          '      Who to greet. Required.',
          '  --times <integer>',
          '      How many times. Default: 1. Expects an integer >= 1.',
          '  --shout [true|false], --no_shout',
          '      Upper case. Default: false.',
          '',
          'General:',
          '  --config <file>',
          '      Read options from a YAML or JSON file holding the same keys as the flags',
          '      (block_size: 512). Flags given as well override the file. Relative paths,',
          '      in the file too, are relative to the working directory.',
          '  -h, --help',
          '      Show this help and exit.',
          '',
        ].join('\n'),
      );
    }
    expect(runs).toEqual([]);
  });

  it('an unknown command lists the known ones and suggests the closest, with status 2', async () => {
    expect(await run(['gret', '--name', 'x'])).toEqual({
      status: 2,
      out: '',
      err: 'lmflow: error: unknown command "gret"; did you mean "greet"? Commands: greet, fail user, fail bug, fail usage\n',
    });
    expect((await run(['finetune'])).err).toBe('lmflow: error: unknown command "finetune"; commands: greet, fail user, fail bug, fail usage\n');
    expect((await run(['fail', 'usr'])).err).toBe('lmflow: error: unknown command "fail usr"; did you mean "fail user"? Commands: greet, fail user, fail bug, fail usage\n');
    expect(await run(['fail'])).toEqual({ status: 2, out: '', err: 'lmflow: error: "fail" needs a subcommand: fail user, fail bug, fail usage\n' });
    expect((await run(['--name', 'x'])).err).toBe('lmflow: error: unknown option --name; give a command first (commands: greet, fail user, fail bug, fail usage), or --help or --version\n');
  });

  it('bad options fail before the command runs: one line naming the flag, status 2', async () => {
    runs.length = 0;
    expect(await run(['greet', '--name', 'Ada', '--times', '0'])).toEqual({ status: 2, out: '', err: 'lmflow greet: error: --times: expected an integer >= 1, got 0\n' });
    expect((await run(['greet'])).err).toBe('lmflow greet: error: missing required option --name; set it with --name or in a --config file\n');
    expect((await run(['greet', '--nme', 'Ada'])).err).toBe('lmflow greet: error: unknown option --nme; did you mean --name? Valid options: --config, --help, --name, --shout, --times\n');
    expect(runs).toEqual([]);
  });

  it('a user mistake is one line without a stack trace, status 1; a usage error from run is status 2', async () => {
    expect(await run(['fail', 'user'])).toEqual({
      status: 1,
      out: '',
      err: 'lmflow fail user: error: dataset data/train.json: instance 17: "messages[2].role" is "bot", expected "user" or "assistant"\n',
    });
    expect(await run(['fail', 'usage'])).toEqual({
      status: 2,
      out: '',
      err: 'lmflow fail usage: error: --to paired_conversation needs --from sharegpt or alpaca preference records\n',
    });
  });

  it('a bug is one line with a hint; LMFLOW_DEBUG=1 prints the stack', async () => {
    const plain = await run(['fail', 'bug']);
    expect(plain.status).toBe(1);
    expect(plain.err).toMatch(/^lmflow fail bug: error: Cannot read properties of undefined \(reading 'field'\) \(set LMFLOW_DEBUG=1 to see the stack trace\)\n$/);
    const debug = await run(['fail', 'bug'], { env: { LMFLOW_DEBUG: '1' } });
    expect(debug.status).toBe(1);
    expect(debug.err).toMatch(/^lmflow fail bug: error: TypeError: Cannot read properties of undefined \(reading 'field'\)\n    at .*run-cli\.test\.ts/);
    const user = await run(['fail', 'user'], { env: { LMFLOW_DEBUG: '1' } });
    expect(user.err.split('\n').length).toBeGreaterThan(3);
  });

  it('colour follows the terminal, NO_COLOR and FORCE_COLOR', async () => {
    runs.length = 0;
    await run(['greet', '--name', 'a'], { tty: true });
    await run(['greet', '--name', 'a'], { tty: true, env: { NO_COLOR: '1' } });
    await run(['greet', '--name', 'a'], { tty: true, env: { TERM: 'dumb' } });
    await run(['greet', '--name', 'a'], { tty: false, env: { FORCE_COLOR: '1' } });
    expect(runs.map((r) => r.color)).toEqual([true, false, false, true]);
  });

  it('reads options from --config relative to the working directory given to it', async () => {
    const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const path = await import('node:path');
    const dir = mkdtempSync(path.join(tmpdir(), 'lmflow-cli-'));
    try {
      writeFileSync(path.join(dir, 'greet.yaml'), 'name: Grace\ntimes: 3\n');
      const result = await run(['greet', '--config', 'greet.yaml', '--times', '1'], { cwd: dir });
      expect(result).toEqual({ status: 0, out: 'hello Grace\n', err: 'greeted\n' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects command names that are not lowercase words', () => {
    expect(() => defineCommand({ name: 'Data  Convert', summary: '', options: [], run() {} })).toThrow(
      'command name "Data  Convert": expected lowercase words separated by single spaces, like "data convert"',
    );
  });
});
