/**
 * The real `lmflow` executable as a child process, from source (the bin in dist/ is the same
 * file built by tsup): exit statuses, stdout and stderr as a shell sees them.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const repoRoot = path.resolve(fileURLToPath(import.meta.url), '../../../..');
const version = (JSON.parse(readFileSync(path.join(repoRoot, 'packages/cli/package.json'), 'utf8')) as { version: string }).version;

function lmflow(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      'npx',
      ['tsx', '--conditions=lmflow-source', 'packages/cli/src/main.ts', ...args],
      { cwd: repoRoot, env: { ...process.env, NO_COLOR: '1', LMFLOW_DEBUG: '', ...env } },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code) : 0, stdout, stderr }),
    );
  });
}

describe('the lmflow executable', () => {
  it('prints its version and exits 0', async () => {
    expect(await lmflow(['--version'])).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
  });

  it('runs as the installed bin (node_modules/.bin/lmflow, whose dist/ the root prepare script builds on npm ci)', async () => {
    const result = await new Promise<{ code: number; stdout: string }>((resolve) => {
      execFile(path.join(repoRoot, 'node_modules/.bin/lmflow'), ['--version'], { cwd: repoRoot }, (error, stdout) =>
        resolve({ code: error ? Number(error.code ?? 1) : 0, stdout }),
      );
    });
    expect(result).toEqual({ code: 0, stdout: `${version}\n` });
  });

  it('fails a bad flag with one line on stderr and exit status 2', async () => {
    const result = await lmflow(['data', 'convert', '--from', 'alpacca', '--to', 'text2text', '--input', 'x.json', '--output', 'out']);
    expect(result).toEqual({
      code: 2,
      stdout: '',
      stderr: 'lmflow data convert: error: --from: expected one of alpaca, sharegpt, jsonl-text, medmcqa, pubmedqa, mmlu, gsm8k, got "alpacca"; did you mean "alpaca"?\n',
    });
  });

  it('fails a bad dataset with one line naming the file, and exit status 1', async () => {
    const result = await lmflow(['data', 'inspect', '--dataset_path', 'package.json', '--model_name_or_path', '../shared/models/stories260K']);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/^lmflow data inspect: error: dataset .*package\.json: /);
  });
});
