/**
 * results.json: what was evaluated (model, dataset, options), the summary figures, and every
 * sample (prediction, extracted answer, gold answer, whether it matched; or log-likelihoods).
 * Written atomically: a temp file in the same folder, then renamed over the old one. JSON has
 * no NaN or Infinity, so such values are written as the strings "NaN", "Infinity", "-Infinity".
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { EvaluationResult } from '../metrics/metric-types.js';

export const RESULTS_FILE = 'results.json';

export interface ResultsHeader {
  model: string;
  dataset: string;
  /** The options the run used, by flag name. */
  options: Record<string, unknown>;
}

export async function writeResults(outputDir: string, header: ResultsHeader, result: EvaluationResult): Promise<string> {
  await mkdir(outputDir, { recursive: true });
  const file = path.join(outputDir, RESULTS_FILE);
  const body = {
    metric: result.metric,
    model: header.model,
    dataset: header.dataset,
    options: header.options,
    summary: result.summary,
    ...(result.unparseable && { unparseable: result.unparseable }),
    notes: result.notes,
    samples: result.samples,
  };
  const text = `${JSON.stringify(body, (key, value) => (key !== '' && typeof value === 'number' && !Number.isFinite(value) ? String(value) : value), 2)}\n`;
  const temp = path.join(outputDir, `.${RESULTS_FILE}.${process.pid}.tmp`);
  await writeFile(temp, text);
  await rename(temp, file);
  return file;
}

/** The summary as an aligned two-column table for the terminal. */
export function formatSummary(result: EvaluationResult, header: Pick<ResultsHeader, 'model' | 'dataset'>): string {
  const rows: [string, string][] = [
    ['metric', result.metric],
    ['model', header.model],
    ['dataset', header.dataset],
    ...Object.entries(result.summary).map(([key, value]): [string, string] => [key, formatFigure(key, value)]),
  ];
  if (result.unparseable && result.unparseable.length > 0) {
    const shown = result.unparseable.slice(0, 20).join(', ') + (result.unparseable.length > 20 ? `, ... (${result.unparseable.length - 20} more)` : '');
    rows.push(['unparseable samples', shown]);
  }
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n');
}

function formatFigure(key: string, value: number): string {
  if (Number.isInteger(value) && !key.startsWith('accuracy')) return value.toLocaleString('en-US');
  if (key.startsWith('accuracy') || key === 'chance') return `${value.toFixed(4)} (${(value * 100).toFixed(2)}%)`;
  return Math.abs(value) >= 1e5 ? value.toExponential(4) : value.toFixed(4);
}
