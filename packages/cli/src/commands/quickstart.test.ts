/**
 * `lmflow quickstart` end to end, as the README runs it: a fresh model learns the task, its
 * loss falls, and afterwards it spells numbers it never saw in training, which it could not
 * before. The run is deterministic for a given thread count; the accuracy bound leaves room
 * for the arithmetic of other thread counts.
 */
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { METRICS_FILE, readMetrics } from '@lmflow/train';
import { runCli } from '../run-cli.js';
import { spellNumber } from '../quickstart/number-words.js';

function capture() {
  let text = '';
  return { stream: { write: (chunk: string) => ((text += chunk), true) }, text: () => text };
}

describe('lmflow quickstart', () => {
  it('finetunes a fresh Llama that then spells held-out numbers right', { timeout: 600_000 }, async () => {
    const out = path.join(mkdtempSync(path.join(os.tmpdir(), 'lmflow-qs-')), 'run');
    const stdout = capture();
    const stderr = capture();
    const status = await runCli(['quickstart', '--output_dir', out], { stdout: stdout.stream, stderr: stderr.stream, env: { NO_COLOR: '1' } });
    expect(status, stderr.text()).toBe(0);
    const text = stdout.text();

    // Before: the untrained model's answers are wrong; after: the same prompts are right.
    const section = (title: string) => text.split(title)[1]!.split('\n\n')[0]!;
    const before = [...section('Before finetuning:').matchAll(/Spell out (\d+) {2}-> {2}(".*")/g)];
    const after = [...section('After finetuning:').matchAll(/Spell out (\d+) {2}-> {2}(".*") {2}\((.*)\)/g)];
    expect(before).toHaveLength(3);
    expect(after.map((m) => m[1])).toEqual(before.map((m) => m[1]));
    for (const [, n, answer] of before) expect(JSON.parse(answer!)).not.toBe(spellNumber(Number(n)));
    for (const [, , , verdict] of after) expect(verdict).toBe('right');
    const [, right, total] = /held-out numbers spelled right: (\d+) of (\d+)/.exec(text)!;
    expect(Number(total)).toBe(26);
    expect(Number(right)).toBeGreaterThanOrEqual(24);

    // The loss fell, and the run left a Hugging Face folder with its report.
    const losses = (await readMetrics(path.join(out, 'model', METRICS_FILE))).flatMap((r) => (typeof r.loss === 'number' ? [r.loss] : []));
    expect(losses.length).toBeGreaterThan(5);
    expect(losses.at(-1)!).toBeLessThan(losses[0]! / 20);
    for (const file of ['config.json', 'model.safetensors', 'tokenizer.json', 'report.html']) expect(existsSync(path.join(out, 'model', file)), file).toBe(true);
    expect(text).toMatch(/Training loss/);
  });

  it('refuses an --output_dir that holds something else, and touches nothing in it', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'lmflow-qs-'));
    writeFileSync(path.join(dir, 'notes.txt'), 'mine');
    const stderr = capture();
    const status = await runCli(['quickstart', '--output_dir', dir], { stdout: capture().stream, stderr: stderr.stream });
    expect(status).toBe(1);
    expect(stderr.text()).toMatch(/--output_dir .* exists and is not a previous quick start's folder/);
    expect(existsSync(path.join(dir, 'notes.txt'))).toBe(true);
  });
});
