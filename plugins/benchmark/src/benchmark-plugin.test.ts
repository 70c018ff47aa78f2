import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createRuntime, resolveConfig } from '@lmflow/core';
import { loadTokenizer } from '@lmflow/data';
import { loadModel } from '@lmflow/models';
import { finetune, finetuneOptionGroups, readMetrics } from '@lmflow/train';
import { benchmarkFromConfig, benchmarkOptions } from './benchmark-options.js';
import { BENCHMARK_SUITE, formatBenchmarkTable, loadBenchmarkEntries, runBenchmarkSuite } from './suite.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const stories260K = path.resolve(repoRoot, '../shared/models/stories260K');

describe('the benchmark suite with stories260K', () => {
  it('ships four sets of 24 texts; the model of stories knows stories best', async () => {
    const entries = await loadBenchmarkEntries(BENCHMARK_SUITE.map((s) => s.name));
    expect(entries.map((e) => [e.name, e.dataset.type, e.dataset.instances.length])).toEqual(BENCHMARK_SUITE.map((s) => [s.name, 'text_only', 24]));
    const model = await loadModel(stories260K, { device: 'cpu' });
    const tokenizer = await loadTokenizer(stories260K);
    const rows = await runBenchmarkSuite(model, tokenizer, entries, { batchSize: 12 });
    model.dispose();
    const byName = Object.fromEntries(rows.map((r) => [r.name, r]));
    for (const row of rows) {
      expect(row.samples).toBe(24);
      expect(row.perplexity).toBeCloseTo(Math.exp(row.nll_per_token), 6);
      expect(row.nll).toBeCloseTo((row.nll_per_token * row.tokens) / row.samples, 6);
    }
    // TinyStories is all the model has read: its own kind of text is the easiest by far.
    for (const other of ['everyday', 'science', 'instructions']) expect(byName.stories!.nll_per_token).toBeLessThan(byName[other]!.nll_per_token - 0.5);
    const table = formatBenchmarkTable(rows).split('\n');
    expect(table[0]).toMatch(/^set +samples +tokens +nll +nll\/token +perplexity$/);
    expect(table).toHaveLength(2 + rows.length + 1);
    expect(table.at(-1)).toMatch(/^mean /);
  });
});

describe('the benchmark plugin in the finetune recipe', () => {
  it('reports eval_<set>_nll at every --eval_steps and at the end, into metrics.jsonl', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'lmflow-bench-'));
    const data = path.join(root, 'train.json');
    writeFileSync(data, JSON.stringify({ type: 'text_only', instances: Array.from({ length: 8 }, (_, i) => ({ text: `Tom had ${i + 1} red balls. He gave one to Lily.` })) }));
    const out = path.join(root, 'out');
    const argv = [
      '--model_name_or_path', stories260K, '--dataset_path', data, '--output_dir', out, '--max_steps', '4', '--per_device_train_batch_size', '4',
      '--eval_steps', '1', '--benchmark_datasets', 'stories', 'science', '--benchmark_steps', '2', '--benchmark_max_samples', '6', '--logging_steps', '1', '--learning_rate', '1e-3',
    ];
    const config = resolveConfig([...finetuneOptionGroups, benchmarkOptions], { argv });
    const runtime = createRuntime({ plugins: [benchmarkFromConfig(config)] });
    const result = await finetune(config as never, { runtime, log: () => {}, progressStream: { write: () => true } });
    expect(result.status).toBe('completed');
    const records = await readMetrics(path.join(out, 'metrics.jsonl'));
    const bench = records.filter((r) => 'eval_stories_nll' in r);
    // Steps 2 (a multiple of --benchmark_steps) and 4 (the end), not 1 and 3.
    expect(bench.map((r) => r.step)).toEqual([2, 4]);
    for (const r of bench) {
      expect(Number.isFinite(r.eval_stories_nll)).toBe(true);
      expect(r.eval_science_nll).toBeGreaterThan(r.eval_stories_nll!);
    }
  });

  it('is off without --benchmark_datasets; --benchmark_steps must be a multiple of --eval_steps', () => {
    expect(benchmarkFromConfig({})).toBe(false);
    expect(() => benchmarkFromConfig({ benchmark_datasets: ['stories'], benchmark_steps: 5, eval_steps: 2 })).toThrow(
      '--benchmark_steps 5 must be a multiple of --eval_steps (2): the benchmarks run at the recipe\'s evaluations, which happen every --eval_steps steps and at the end',
    );
    expect(benchmarkFromConfig({ benchmark_datasets: ['stories'], benchmark_metric: 'nll' })).toMatchObject({ name: 'benchmark' });
  });
});
