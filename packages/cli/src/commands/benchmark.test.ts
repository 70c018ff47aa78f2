/** `lmflow benchmark` with stories260K: the suite's table and JSON rows, and a dataset of one's own. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runCli } from '../index.js';
import { memoryIo } from '../test-io.js';

const repoRoot = path.resolve(fileURLToPath(import.meta.url), '../../../../..');
const stories260K = path.resolve(repoRoot, '../shared/models/stories260K');

async function lmflow(argv: string[], cwd = repoRoot) {
  const io = memoryIo({ cwd });
  const status = await runCli(['benchmark', ...argv], io);
  return { status, out: io.out(), err: io.err() };
}

describe('lmflow benchmark', () => {
  it('prints a table over the shipped sets, and the same figures as JSON rows', async () => {
    const table = await lmflow(['--model_name_or_path', '../shared/models/stories260K', '--max_samples', '6', '--batch_size', '6']);
    expect(table.status, table.err).toBe(0);
    const lines = table.out.trimEnd().split('\n');
    expect(lines.map((l) => l.split(/\s+/)[0])).toEqual(['set', expect.stringMatching(/^-+$/), 'stories', 'everyday', 'science', 'instructions', 'mean']);
    expect(table.err).toContain('measuring science');

    const json = await lmflow(['--model_name_or_path', stories260K, '--max_samples', '6', '--batch_size', '6', '--json']);
    const rows = json.out.trimEnd().split('\n').map((line) => JSON.parse(line) as { name: string; samples: number; nll_per_token: number; perplexity: number });
    expect(rows.map((r) => [r.name, r.samples])).toEqual([['stories', 6], ['everyday', 6], ['science', 6], ['instructions', 6]]);
    for (const row of rows) expect(lines.find((l) => l.startsWith(row.name))).toContain(row.nll_per_token.toFixed(4));
  });

  it('takes datasets by path, relative to the working directory, and names bad ones', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'lmflow-benchmark-'));
    writeFileSync(path.join(dir, 'mine.json'), JSON.stringify({ type: 'text_only', instances: [{ text: 'Lily had a red ball.' }, { text: 'Tom saw a big dog.' }] }));
    const result = await lmflow(['--model_name_or_path', stories260K, '--datasets', 'mine.json', 'stories', '--max_samples', '2', '--json'], dir);
    expect(result.status, result.err).toBe(0);
    expect(result.out.trimEnd().split('\n').map((l) => (JSON.parse(l) as { name: string }).name)).toEqual(['mine', 'stories']);
    const missing = await lmflow(['--model_name_or_path', stories260K, '--datasets', 'nope.json'], dir);
    expect(missing.status).toBe(1);
    expect(missing.err).toContain(`dataset ${path.join(dir, 'nope.json')}: no such file or folder`);
  });
});
