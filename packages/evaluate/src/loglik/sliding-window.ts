/**
 * Perplexity of a long token sequence with a sliding window, as LMFlow's evaluator and the
 * Hugging Face perplexity guide compute it: windows of at most maxLength tokens start every
 * `stride` tokens, and each window scores only the tokens the previous window did not reach,
 * so every token after the first is scored exactly once, with up to maxLength - stride tokens
 * of context before it.
 *
 * The figure is exp(total NLL / scored tokens), the exact per-token mean. (The guide averages
 * the windows' mean losses instead, which gives the short last window as much weight as a full
 * one; with one window both agree.)
 */
import type { CausalLM } from '@lmflow/models';
import { scoreRows, suffixRow } from './score-rows.js';

export interface SlidingWindow {
  /** Tokens start..end - 1 of the sequence go through the model together. */
  start: number;
  end: number;
  /** First scored token, as an index into the sequence. */
  targetStart: number;
}

/** The windows over `length` tokens. stride must be in 1..maxLength. */
export function slidingWindows(length: number, maxLength: number, stride: number): SlidingWindow[] {
  if (!(Number.isInteger(stride) && stride >= 1 && stride <= maxLength)) {
    throw new Error(`slidingWindows: stride ${stride} must be an integer in 1..${maxLength} (the window length); a longer stride would leave tokens unscored`);
  }
  const windows: SlidingWindow[] = [];
  let previousEnd = 0;
  for (let start = 0; start < length; start += stride) {
    const end = Math.min(start + maxLength, length);
    windows.push({ start, end, targetStart: Math.max(previousEnd, 1) });
    previousEnd = end;
    if (end === length) break;
  }
  return windows;
}

export interface PerplexityResult {
  perplexity: number;
  /** Summed negative log-likelihood (nats) of every scored token. */
  nll: number;
  /** Tokens scored: all but the first. */
  tokens: number;
  windows: (SlidingWindow & { nll: number; tokens: number })[];
}

export interface PerplexityOptions {
  /** Tokens per window; at most the model's context. */
  maxLength: number;
  /** Tokens between window starts (LMFlow's evaluate_block_size). */
  stride: number;
  /** Windows per forward pass. */
  batchSize: number;
  padTokenId: number;
  onProgress?: (windowsDone: number, windowsTotal: number) => void;
}

export function slidingWindowPerplexity(model: CausalLM, ids: readonly number[], options: PerplexityOptions): PerplexityResult {
  if (ids.length < 2) throw new Error(`perplexity: the text has ${ids.length} token${ids.length === 1 ? '' : 's'}; it takes at least 2 (the first is only context)`);
  if (options.maxLength > model.maxPositions) {
    throw new Error(`perplexity: windows of ${options.maxLength} tokens exceed the model's ${model.maxPositions} positions`);
  }
  const windows = slidingWindows(ids.length, options.maxLength, options.stride);
  const rows = windows.map((w) => suffixRow(ids.slice(w.start, w.end), w.targetStart - w.start));
  const scores = scoreRows(model, rows, {
    batchSize: options.batchSize,
    padTokenId: options.padTokenId,
    ...(options.onProgress && { onProgress: (done: number) => options.onProgress!(done, windows.length) }),
  });
  const nll = scores.reduce((sum, s) => sum + s.nll, 0);
  const tokens = scores.reduce((sum, s) => sum + s.tokens, 0);
  return { perplexity: Math.exp(nll / tokens), nll, tokens, windows: windows.map((w, i) => ({ ...w, ...scores[i]! })) };
}
