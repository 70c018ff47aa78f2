/**
 * Figures of `npm run bench:generate`: parity of the engines' greedy outputs, and medians of
 * prefill tokens/s, decode tokens/s and time to first token per engine and batch size.
 */
import type { EngineResult, ParityResult, RunTimes } from './generate-protocol.js';

export function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export interface Figures {
  prefillTokensPerSecond: number;
  decodeTokensPerSecond: number;
  ttftMs: number;
  runs: number;
}

/**
 * Medians over the runs of one batch size. Rates are computed per run, then the median taken:
 * prefill = batch x promptLength / prefill time; decode = batch x (newTokens - 1) / time of the
 * decoding steps.
 */
export function figures(runs: RunTimes[], batch: number, promptLength: number, newTokens: number): Figures {
  const mine = runs.filter((r) => r.batch === batch);
  return {
    prefillTokensPerSecond: median(mine.map((r) => (batch * promptLength * 1000) / r.prefillMs)),
    decodeTokensPerSecond: median(mine.map((r) => (batch * (newTokens - 1) * 1000) / r.decodeMs)),
    ttftMs: median(mine.map((r) => r.ttftMs)),
    runs: mine.length,
  };
}

export function maxAbsDiff(a: number[], b: number[]): number {
  if (a.length !== b.length) return Number.POSITIVE_INFINITY;
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

export interface ParityCheck {
  engine: string;
  /** Sequences whose greedy tokens all equal the reference's, of all sequences. */
  sequencesEqual: number;
  sequences: number;
  /** Tokens equal to the reference's, position by position. */
  tokensEqual: number;
  tokens: number;
  firstLogitsDiff: number;
  lastLogitsDiff: number;
}

/** Compares an engine's greedy run with the reference engine's (same prompts, same steps). */
export function compareParity(engine: string, got: ParityResult, reference: ParityResult): ParityCheck {
  let sequencesEqual = 0;
  let tokensEqual = 0;
  let tokens = 0;
  reference.tokens.forEach((want, b) => {
    const have = got.tokens[b] ?? [];
    let same = have.length === want.length;
    want.forEach((t, i) => {
      tokens++;
      if (have[i] === t) tokensEqual++;
      else same = false;
    });
    if (same) sequencesEqual++;
  });
  return {
    engine,
    sequencesEqual,
    sequences: reference.tokens.length,
    tokensEqual,
    tokens,
    firstLogitsDiff: maxAbsDiff(got.firstLogits, reference.firstLogits),
    lastLogitsDiff: maxAbsDiff(got.lastLogits, reference.lastLogits),
  };
}

export function describeParity(check: ParityCheck, referenceName: string): string {
  return (
    `${check.engine} vs ${referenceName}: ${check.sequencesEqual}/${check.sequences} sequences and ${check.tokensEqual}/${check.tokens} greedy tokens equal; ` +
    `max |logit diff| ${check.firstLogitsDiff.toExponential(2)} after the prompt, ${check.lastLogitsDiff.toExponential(2)} at the last step`
  );
}

/** Merges the timed runs of an engine over rounds. */
export function collectRuns(results: EngineResult[]): RunTimes[] {
  return results.flatMap((r) => r.runs ?? []);
}

export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}
