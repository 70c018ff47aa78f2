/**
 * The built-in logits processors, as transformers defines them, on one row of host logits
 * (V floats, changed in place). They run after the plugins' processLogits taps, in
 * transformers' order: repetition penalty, then (when sampling) temperature, top-k, top-p,
 * min-p. A removed token gets -Infinity, so later steps and the sampler skip it.
 */
import { kthLargest } from './top-indices.js';

/**
 * transformers' RepetitionPenaltyLogitsProcessor: each token already seen (prompt or generated)
 * has its logit divided by `penalty` when positive and multiplied by it when negative.
 */
export function applyRepetitionPenalty(row: Float32Array, seen: Iterable<number>, penalty: number): void {
  if (penalty === 1) return;
  for (const id of seen) {
    const v = row[id]!;
    row[id] = v < 0 ? v * penalty : v / penalty;
  }
}

/** logits / temperature (temperature > 0; 0 means greedy and never reaches here). */
export function applyTemperature(row: Float32Array, temperature: number): void {
  if (temperature === 1) return;
  const inverse = 1 / temperature;
  for (let i = 0; i < row.length; i++) row[i]! *= inverse;
}

/** Keeps the k largest logits and every logit tied with the k-th (transformers' TopKLogitsWarper). */
export function applyTopK(row: Float32Array, k: number): void {
  if (k <= 0 || k >= row.length) return;
  const threshold = kthLargest(row, k);
  for (let i = 0; i < row.length; i++) if (row[i]! < threshold) row[i] = -Infinity;
}

/**
 * Nucleus sampling (transformers' TopPLogitsWarper): keeps the likeliest tokens, in order, while
 * the probability of the tokens before them is below p; at least one token stays. Tokens tied
 * with the last kept one stay too.
 */
export function applyTopP(row: Float32Array, p: number): void {
  if (p >= 1) return;
  // Only tokens still in play matter (after top-k usually a few dozen): sort those natively.
  let finite = 0;
  for (let i = 0; i < row.length; i++) if (row[i]! > -Infinity) finite++;
  if (finite <= 1) return;
  const values = new Float32Array(finite);
  for (let i = 0, j = 0; i < row.length; i++) if (row[i]! > -Infinity) values[j++] = row[i]!;
  values.sort(); // ascending; read from the end
  const max = values[finite - 1]!;
  let total = 0;
  for (let j = 0; j < finite; j++) total += Math.exp(values[j]! - max);
  const target = p * total;
  let before = 0;
  let threshold = values[0]!;
  for (let j = finite - 1; j >= 0; j--) {
    if (before >= target) {
      threshold = values[j + 1]!;
      break;
    }
    before += Math.exp(values[j]! - max);
  }
  for (let i = 0; i < row.length; i++) if (row[i]! < threshold) row[i] = -Infinity;
}

/**
 * transformers' MinPLogitsWarper: drops tokens whose probability is below minP times the
 * likeliest token's. p_i < minP * p_max is l_i < l_max + ln(minP), so no softmax is needed.
 */
export function applyMinP(row: Float32Array, minP: number): void {
  if (minP <= 0) return;
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) if (row[i]! > max) max = row[i]!;
  const threshold = max + Math.log(minP);
  for (let i = 0; i < row.length; i++) if (row[i]! < threshold) row[i] = -Infinity;
}
