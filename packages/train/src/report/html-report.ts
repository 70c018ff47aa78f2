/**
 * report.html, written at the end of a run: loss and evaluation curves, learning rate and
 * gradient norm, throughput and timing, and the run's configuration. One self-contained file:
 * inline CSS and SVG, no scripts, and a Content-Security-Policy that forbids loading anything,
 * so it opens the same offline, attached to an issue, or years later. Every string that comes
 * from the run (config keys and values, metric names, the title) is escaped.
 */
import { join } from 'node:path';
import { writeFileAtomic } from '../fs/durable-fs.js';
import type { MetricRecord } from '../metrics/metric-record.js';
import { formatDuration, formatLoss, formatRate } from '../progress/progress.js';
import { escapeHtml } from './escape-html.js';
import { lineChart, type ChartSeries } from './svg-chart.js';

export const REPORT_FILE = 'report.html';

export interface RunSummary {
  /** Optimizer steps done. */
  steps: number;
  /** Steps the run was set up for. */
  totalSteps?: number;
  /** Epochs done (fractional). */
  epochs?: number;
  tokensSeen: number;
  /** Training time over all resumed segments. */
  elapsedSeconds: number;
  startedAt?: Date;
  finishedAt?: Date;
  /** How the run ended: "completed", "interrupted (SIGINT) at step 40", "stopped: the loss became NaN at step 12", ... */
  status?: string;
  peakRssBytes?: number;
  device?: string;
  outputDir?: string;
}

export interface ReportInput {
  /** @default "LMFlow.ts training report" */
  title?: string;
  metrics: MetricRecord[];
  config: Record<string, unknown>;
  summary: RunSummary;
}

const COLORS = { train: '#2563eb', eval: '#dc2626', other: '#059669' };

/** The series of one metric over steps (records without it are skipped: they log other things). */
function seriesOf(metrics: MetricRecord[], key: string, name: string, color: string, markers = false): ChartSeries {
  return { name, color, markers, points: metrics.filter((m) => key in m).map((m) => [m.step, m[key]!] as [number, number]) };
}

const PALETTE = ['#7c3aed', '#0891b2', '#ea580c', '#16a34a', '#db2777', '#4b5563', '#ca8a04', '#2563eb'];

/**
 * Charts of the metrics plugins report at `evaluate` (benchmark suites log eval_<set>_<figure>,
 * e.g. eval_stories_nll): one chart per figure, one series per set.
 */
function pluginEvalCharts(metrics: MetricRecord[]): string[] {
  const byFigure = new Map<string, string[]>();
  const keys = new Set(metrics.flatMap((m) => Object.keys(m)));
  for (const key of keys) {
    if (key === 'eval_loss' || key === 'eval_perplexity' || !key.startsWith('eval_')) continue;
    const figure = key.slice(key.lastIndexOf('_') + 1);
    byFigure.set(figure, [...(byFigure.get(figure) ?? []), key]);
  }
  return [...byFigure].map(([figure, group]) =>
    lineChart({
      title: `Evaluation: ${figure}`,
      xLabel: 'step',
      yLabel: figure,
      series: group.sort().map((key, i) => seriesOf(metrics, key, key.slice('eval_'.length), PALETTE[i % PALETTE.length]!, true)),
    }),
  );
}

function figures(input: ReportInput): [string, string][] {
  const { summary, metrics } = input;
  const rows: [string, string][] = [];
  if (summary.status) rows.push(['status', summary.status]);
  rows.push(['steps', summary.totalSteps !== undefined ? `${summary.steps} / ${summary.totalSteps}` : String(summary.steps)]);
  if (summary.epochs !== undefined) rows.push(['epochs', summary.epochs.toFixed(2)]);
  rows.push(['tokens trained on', summary.tokensSeen.toLocaleString('en-US')]);
  rows.push(['training time', formatDuration(summary.elapsedSeconds)]);
  if (summary.elapsedSeconds > 0) rows.push(['mean throughput', `${formatRate(summary.tokensSeen / summary.elapsedSeconds)} tokens/s`]);
  const rates = metrics.map((m) => m.tokens_per_second).filter((v): v is number => Number.isFinite(v)).sort((a, b) => a - b);
  if (rates.length > 0) rows.push(['median logged throughput', `${formatRate(rates[Math.floor(rates.length / 2)]!)} tokens/s`]);
  if (summary.elapsedSeconds > 0 && summary.steps > 0) rows.push(['time per step', `${((1000 * summary.elapsedSeconds) / summary.steps).toFixed(1)} ms`]);
  const losses = metrics.filter((m) => 'loss' in m);
  if (losses.length > 0) rows.push(['first / last loss', `${formatLoss(losses[0]!.loss!)} / ${formatLoss(losses.at(-1)!.loss!)}`]);
  const evals = metrics.filter((m) => Number.isFinite(m.eval_loss));
  if (evals.length > 0) {
    const best = evals.reduce((a, b) => (b.eval_loss! < a.eval_loss! ? b : a));
    rows.push(['best eval loss', `${formatLoss(best.eval_loss!)} at step ${best.step} (perplexity ${Math.exp(best.eval_loss!).toFixed(2)})`]);
  }
  if (summary.peakRssBytes !== undefined) rows.push(['peak memory (RSS)', `${(summary.peakRssBytes / 2 ** 20).toFixed(0)} MiB`]);
  if (summary.device) rows.push(['device', summary.device]);
  if (summary.startedAt) rows.push(['started', summary.startedAt.toISOString()]);
  if (summary.finishedAt) rows.push(['finished', summary.finishedAt.toISOString()]);
  if (summary.outputDir) rows.push(['output_dir', summary.outputDir]);
  return rows;
}

function configValue(value: unknown): string {
  if (typeof value === 'string') return value;
  return JSON.stringify(value) ?? String(value);
}

function table(rows: [string, string][], head: [string, string]): string {
  const body = rows.map(([k, v]) => `<tr><th scope="row">${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`).join('\n');
  return `<table>\n<thead><tr><th scope="col">${head[0]}</th><th scope="col">${head[1]}</th></tr></thead>\n<tbody>\n${body}\n</tbody>\n</table>`;
}

export function renderReport(input: ReportInput): string {
  const title = input.title ?? 'LMFlow.ts training report';
  const m = input.metrics;
  const charts = [
    lineChart({ title: 'Loss', xLabel: 'step', yLabel: 'loss', series: [seriesOf(m, 'loss', 'train loss', COLORS.train), seriesOf(m, 'eval_loss', 'eval loss', COLORS.eval, true)] }),
    lineChart({ title: 'Eval perplexity', xLabel: 'step', yLabel: 'perplexity', series: [seriesOf(m, 'eval_perplexity', 'eval perplexity', COLORS.eval, true)] }),
    lineChart({ title: 'Learning rate', xLabel: 'step', yLabel: 'learning rate', series: [seriesOf(m, 'learning_rate', 'learning rate', COLORS.other)] }),
    lineChart({ title: 'Gradient norm (before clipping)', xLabel: 'step', yLabel: 'grad norm', series: [seriesOf(m, 'grad_norm', 'grad norm', COLORS.other)] }),
    lineChart({ title: 'Throughput', xLabel: 'step', yLabel: 'tokens/s', series: [seriesOf(m, 'tokens_per_second', 'tokens/s', COLORS.other)] }),
    ...pluginEvalCharts(m),
  ].filter((svg) => svg !== '');
  const config = Object.entries(input.config).map(([k, v]) => [k, configValue(v)] as [string, string]);
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px auto; max-width: 1340px; padding: 0 16px; color: #111827; }
h1 { font-size: 22px; } h2 { font-size: 17px; margin-top: 28px; }
.charts { display: flex; flex-wrap: wrap; gap: 12px; }
.chart { border: 1px solid #e5e7eb; border-radius: 6px; background: #fff; max-width: 100%; height: auto; }
.chart-title { font-weight: 600; font-size: 14px; } .tick, .legend, .note { font-size: 11px; fill: #4b5563; } .axis-label { font-size: 12px; fill: #111827; }
.grid { stroke: #f1f5f9; } .axis, .tick-mark { stroke: #6b7280; } .series { fill: none; stroke-width: 1.6; } .note { fill: #b91c1c; }
table { border-collapse: collapse; margin-top: 8px; } th, td { text-align: left; padding: 4px 12px 4px 0; border-bottom: 1px solid #f1f5f9; vertical-align: top; }
td { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; white-space: pre-wrap; word-break: break-word; } thead th { color: #6b7280; font-weight: 500; }
</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
<h2>Run</h2>
${table(figures(input), ['figure', 'value'])}
<h2>Curves</h2>
<div class="charts">
${charts.length > 0 ? charts.join('\n') : '<p>No metrics were logged.</p>'}
</div>
<h2>Configuration</h2>
${config.length > 0 ? table(config, ['option', 'value']) : '<p>No options recorded.</p>'}
</body>
</html>
`;
}

/** Writes report.html into outputDir (atomically) and returns its path. */
export async function writeReport(outputDir: string, input: ReportInput): Promise<string> {
  const path = join(outputDir, REPORT_FILE);
  await writeFileAtomic(path, renderReport(input));
  return path;
}
