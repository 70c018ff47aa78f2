/**
 * The LMFlow-benchmark style suite: the negative log-likelihood of a model on small text sets
 * in several domains, which this project wrote for the purpose (24 short paragraphs each, in
 * ../data). Lower is better; comparing two models on the same sets shows which one models
 * each kind of text better, as LMFlow's benchmark does with its chat and commonsense sets.
 */
import { fileURLToPath } from 'node:url';
import type { Dataset } from '@lmflow/core';
import { loadDataset, type Tokenizer } from '@lmflow/data';
import { planEvaluation, runEvaluation } from '@lmflow/evaluate';
import type { CausalLM } from '@lmflow/models';

export interface SuiteSet {
  name: string;
  description: string;
}

export const BENCHMARK_SUITE: readonly SuiteSet[] = [
  { name: 'stories', description: "short children's stories" },
  { name: 'everyday', description: 'everyday commonsense statements' },
  { name: 'science', description: 'school science and medicine facts' },
  { name: 'instructions', description: 'how-to instructions' },
];

/** The file of a shipped set (the same relative place from src/ and dist/). */
export function suiteSetPath(name: string): string {
  if (!BENCHMARK_SUITE.some((set) => set.name === name)) {
    throw new Error(`benchmark set "${name}" is not in the suite; sets: ${BENCHMARK_SUITE.map((s) => s.name).join(', ')}`);
  }
  return fileURLToPath(new URL(`../data/${name}.json`, import.meta.url));
}

export interface BenchmarkRow {
  name: string;
  samples: number;
  tokens: number;
  /** Mean over samples of the summed NLL (LMFlow's figure). */
  nll: number;
  nll_per_token: number;
  perplexity: number;
}

export interface BenchmarkEntry {
  name: string;
  dataset: Dataset;
}

/** Each entry: a suite set's name, or a path to an LMFlow dataset (text_only, text2text or conversation). */
export async function loadBenchmarkEntries(entries: readonly string[]): Promise<BenchmarkEntry[]> {
  return Promise.all(
    entries.map(async (entry) => {
      const isSet = BENCHMARK_SUITE.some((set) => set.name === entry);
      const file = isSet ? suiteSetPath(entry) : entry;
      const name = isSet ? entry : entry.replace(/\/+$/, '').split('/').pop()!.replace(/\.json$/i, '');
      return { name, dataset: await loadDataset(file) };
    }),
  );
}

export async function runBenchmarkSuite(
  model: CausalLM,
  tokenizer: Tokenizer,
  entries: readonly BenchmarkEntry[],
  options: { batchSize?: number; maxSamples?: number; onSet?: (name: string) => void } = {},
): Promise<BenchmarkRow[]> {
  // Plan every set first: a bad one fails before any model work.
  const plans = entries.map((entry) => ({
    name: entry.name,
    plan: planEvaluation(entry.dataset, tokenizer, { metric: 'nll', ...(options.batchSize !== undefined && { batchSize: options.batchSize }), ...(options.maxSamples !== undefined && { maxSamples: options.maxSamples }) }),
  }));
  const rows: BenchmarkRow[] = [];
  for (const { name, plan } of plans) {
    options.onSet?.(name);
    const { summary } = await runEvaluation(plan, { model, tokenizer });
    rows.push({ name, samples: summary.samples!, tokens: summary.tokens!, nll: summary.nll!, nll_per_token: summary.nll_per_token!, perplexity: summary.perplexity! });
  }
  return rows;
}

/** The rows as an aligned table, with the mean NLL per token over the sets last. */
export function formatBenchmarkTable(rows: readonly BenchmarkRow[]): string {
  const header = ['set', 'samples', 'tokens', 'nll', 'nll/token', 'perplexity'];
  const body = rows.map((r) => [r.name, String(r.samples), String(r.tokens), r.nll.toFixed(3), r.nll_per_token.toFixed(4), r.perplexity.toFixed(3)]);
  const meanPerToken = rows.reduce((s, r) => s + r.nll_per_token, 0) / rows.length;
  body.push(['mean', '', '', '', meanPerToken.toFixed(4), Math.exp(meanPerToken).toFixed(3)]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}
