import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, type DefaultTreeAdapterMap } from 'parse5';
import { renderReport, writeReport, type ReportInput } from './html-report.js';
import { CHART_LAYOUT, niceTicks } from './svg-chart.js';

type Node = DefaultTreeAdapterMap['node'];
type Element = DefaultTreeAdapterMap['element'];

const dir = mkdtempSync(join(tmpdir(), 'lmflow-report-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Parses with the HTML standard's parser and fails on any parse error (not well-formed). */
function parseStrict(html: string) {
  const errors: string[] = [];
  const doc = parse(html, { onParseError: (e) => errors.push(`${e.code} at line ${e.startLine}, col ${e.startCol}`) });
  expect(errors).toEqual([]);
  return doc;
}

function elements(node: Node, out: Element[] = []): Element[] {
  if ('tagName' in node) out.push(node);
  const children = 'childNodes' in node ? node.childNodes : [];
  for (const child of children) elements(child, out);
  if ('content' in node && node.content) elements(node.content as Node, out);
  return out;
}

const attr = (el: Element, name: string) => el.attrs.find((a) => a.name === name)?.value;
const text = (el: Element): string => el.childNodes.map((c) => ('value' in c ? c.value : 'tagName' in c ? text(c) : '')).join('');

/** [x, y] of each point of a path's d attribute (M and L commands). */
function pathPoints(d: string): [number, number][] {
  return d.split(' ').map((cmd) => cmd.slice(1).split(',').map(Number) as [number, number]);
}

const INPUT: ReportInput = {
  metrics: [
    { step: 1, loss: 4, learning_rate: 0, grad_norm: 3, tokens_per_second: 900 },
    { step: 2, loss: 3, learning_rate: 1e-4, grad_norm: 2.5, tokens_per_second: 1000 },
    { step: 3, loss: 2, learning_rate: 1e-4, grad_norm: 2, tokens_per_second: 1100 },
    { step: 4, loss: 1, learning_rate: 5e-5, grad_norm: 1, tokens_per_second: 1000 },
    { step: 4, eval_loss: 1.5, eval_perplexity: Math.exp(1.5) },
  ],
  config: { model_name_or_path: 'models/<script>alert("x")</script>', learning_rate: 1e-4, lora_target_modules: ['q_proj', 'v_proj'], '<b>key</b>': 'a & b' },
  summary: { steps: 4, totalSteps: 4, tokensSeen: 4096, elapsedSeconds: 4, status: 'completed', peakRssBytes: 512 * 2 ** 20, startedAt: new Date('2026-01-02T03:04:05Z') },
};

describe('report.html', () => {
  it('is well-formed HTML that loads nothing: no scripts, no links, no URLs, a CSP that forbids fetching', () => {
    const html = renderReport(INPUT);
    const doc = parseStrict(html);
    const all = elements(doc);
    expect(all.filter((e) => ['script', 'link', 'img', 'iframe', 'object'].includes(e.tagName))).toEqual([]);
    expect(html).not.toMatch(/https?:|url\(|@import|src=/i);
    const csp = all.find((e) => e.tagName === 'meta' && attr(e, 'http-equiv') === 'Content-Security-Policy');
    expect(attr(csp!, 'content')).toBe("default-src 'none'; style-src 'unsafe-inline'");
  });

  it('escapes every config key and value (a value like <script> stays text)', () => {
    const html = renderReport(INPUT);
    expect(html).not.toContain('<script');
    expect(html).not.toContain('<b>key</b>');
    expect(html).toContain('models/&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
    const rows = elements(parseStrict(html)).filter((e) => e.tagName === 'tr').map((tr) => elements(tr).filter((e) => e.tagName === 'th' || e.tagName === 'td').map(text));
    // After parsing, the browser shows exactly the original strings.
    expect(rows).toContainEqual(['model_name_or_path', 'models/<script>alert("x")</script>']);
    expect(rows).toContainEqual(['<b>key</b>', 'a & b']);
    expect(rows).toContainEqual(['lora_target_modules', '["q_proj","v_proj"]']);
    expect(rows).toContainEqual(['mean throughput', '1,024 tokens/s']);
    expect(rows).toContainEqual(['best eval loss', '1.5000 at step 4 (perplexity 4.48)']);
    expect(rows).toContainEqual(['peak memory (RSS)', '512 MiB']);
  });

  it('draws the loss as an SVG path through every logged point, and eval points as markers', () => {
    const all = elements(parseStrict(renderReport(INPUT)));
    const svgs = all.filter((e) => e.tagName === 'svg');
    expect(svgs.map((s) => attr(s, 'aria-label'))).toEqual(['Loss', 'Eval perplexity', 'Learning rate', 'Gradient norm (before clipping)', 'Throughput']);
    const loss = all.find((e) => e.tagName === 'path' && attr(e, 'data-series') === 'train loss')!;
    const points = pathPoints(attr(loss, 'd')!);
    expect(attr(loss, 'd')!.startsWith('M')).toBe(true);
    expect(points).toHaveLength(4);
    const { width, height, left, right, top, bottom } = CHART_LAYOUT;
    // x: steps 1..4 span the plot exactly, evenly spaced.
    expect(points.map((p) => p[0])).toEqual([0, 1, 2, 3].map((i) => Number((left + (i * (width - left - right)) / 3).toFixed(2))));
    // y: the axis runs over the nice ticks around 1..4; a lower loss is drawn lower (larger y).
    const ticks = niceTicks(1, 4, 5);
    const [lo, hi] = [ticks[0]!, ticks.at(-1)!];
    const plotH = height - top - bottom;
    expect(points.map((p) => p[1])).toEqual([4, 3, 2, 1].map((v) => Number((top + ((hi - v) / (hi - lo)) * plotH).toFixed(2))));
    const evalMarkers = all.filter((e) => e.tagName === 'circle' && attr(e, 'data-series') === 'eval loss');
    expect(evalMarkers).toHaveLength(1);
    expect(Number(attr(evalMarkers[0]!, 'cx'))).toBe(points[3]![0]);
  });

  it('draws the figures plugins report at evaluate: one chart per figure, one series per set', () => {
    const metrics = [
      ...INPUT.metrics,
      { step: 2, eval_stories_nll: 2.5, eval_science_nll: 3.5, eval_medqa_accuracy: 0.25 },
      { step: 4, eval_stories_nll: 2.1, eval_science_nll: 3.2, eval_medqa_accuracy: 0.5 },
    ];
    const all = elements(parseStrict(renderReport({ ...INPUT, metrics })));
    const labels = all.filter((e) => e.tagName === 'svg').map((s) => attr(s, 'aria-label'));
    expect(labels.slice(5)).toEqual(['Evaluation: nll', 'Evaluation: accuracy']);
    const markers = (series: string) => all.filter((e) => e.tagName === 'circle' && attr(e, 'data-series') === series);
    expect(markers('stories_nll')).toHaveLength(2);
    expect(markers('science_nll')).toHaveLength(2);
    expect(markers('medqa_accuracy')).toHaveLength(2);
  });

  it('breaks the line at a NaN loss and says how many values were not drawn', () => {
    const html = renderReport({ ...INPUT, metrics: [{ step: 1, loss: 3 }, { step: 2, loss: 2 }, { step: 3, loss: NaN }, { step: 4, loss: 1.5 }] });
    const all = elements(parseStrict(html));
    const d = attr(all.find((e) => attr(e, 'data-series') === 'train loss')!, 'd')!;
    expect(d.split(' ').map((c) => c[0])).toEqual(['M', 'L', 'M']);
    expect(html).toContain('not drawn: 1 non-finite value of train loss');
  });

  it('writes report.html into output_dir; with no metrics it says so', async () => {
    const path = await writeReport(dir, { metrics: [], config: {}, summary: { steps: 0, tokensSeen: 0, elapsedSeconds: 0 } });
    expect(path).toBe(join(dir, 'report.html'));
    const html = readFileSync(path, 'utf8');
    parseStrict(html);
    expect(html).toContain('<p>No metrics were logged.</p>');
  });

  it('picks round ticks', () => {
    expect(niceTicks(1, 4, 5)).toEqual([1, 2, 3, 4]);
    // The axis always covers the data: the last tick is at or above the largest value.
    expect(niceTicks(0.013, 0.0871, 4)).toEqual([0, 0.02, 0.04, 0.06, 0.08, 0.1]);
    expect(niceTicks(2.31, 9.7, 5)).toEqual([2, 4, 6, 8, 10]);
    expect(niceTicks(0, 3e-4, 5)).toEqual([0, 1e-4, 2e-4, 3e-4]);
    expect(niceTicks(1, 7, 6, true)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    // A flat series gets a band around its value.
    expect(niceTicks(5, 5)).toEqual([4.4, 4.6, 4.8, 5, 5.2, 5.4, 5.6]);
  });
});
