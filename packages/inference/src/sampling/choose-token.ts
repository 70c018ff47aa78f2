/**
 * From one row of next-token logits (host floats, after the processLogits taps) to a token:
 * the built-in processors, then argmax (greedy) or a draw from the softmax (sampling).
 */
import { GenerationError } from '../errors.js';
import { applyMinP, applyRepetitionPenalty, applyTemperature, applyTopK, applyTopP } from './logits-processors.js';

export interface SamplingParams {
  readonly doSample: boolean;
  readonly temperature: number;
  readonly topK: number;
  readonly topP: number;
  readonly minP: number;
  readonly repetitionPenalty: number;
}

/** Changes `row` in place. `seen`: the row's prompt and generated tokens (for the penalty). */
export function chooseToken(row: Float32Array, params: SamplingParams, seen: Iterable<number>, random: () => number): number {
  applyRepetitionPenalty(row, seen, params.repetitionPenalty);
  if (!params.doSample) return argmaxOf(row);
  applyTemperature(row, params.temperature);
  applyTopK(row, params.topK);
  applyTopP(row, params.topP);
  applyMinP(row, params.minP);
  return sampleFromLogits(row, random());
}

/** Index of the first largest value (as torch.argmax). */
export function argmaxOf(row: Float32Array): number {
  let best = 0;
  let max = row[0]!;
  for (let i = 1; i < row.length; i++) {
    if (row[i]! > max) {
      max = row[i]!;
      best = i;
    }
  }
  return best;
}

/**
 * Draws a token from softmax(row) with the uniform number u in [0, 1): the first token whose
 * cumulative probability passes u (inverse CDF, summed in float64).
 */
export function sampleFromLogits(row: Float32Array, u: number): number {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) if (row[i]! > max) max = row[i]!;
  if (max === -Infinity || Number.isNaN(max)) throw new GenerationError(`sampling: every logit is -Infinity or NaN (max ${max}); a logits processor removed every token`);
  let total = 0;
  for (let i = 0; i < row.length; i++) if (row[i]! > -Infinity) total += Math.exp(row[i]! - max);
  const target = u * total;
  let cumulative = 0;
  let last = 0;
  for (let i = 0; i < row.length; i++) {
    if (!(row[i]! > -Infinity)) continue;
    const p = Math.exp(row[i]! - max);
    if (p === 0) continue;
    cumulative += p;
    last = i;
    if (cumulative > target) return i;
  }
  // Rounding left u * total just above the sum: the last possible token.
  return last;
}
