/**
 * The tensors of one forward step of a batch: token ids, and for rows of different prompt
 * lengths (left padding) each row's positions and segment ids, so that padding is never
 * attended and every row's first real token is at position 0.
 *
 *   ids, positions, segments: i32 (B, T)  B rows, T tokens this step
 */
import { fromHostArray, type Tensor } from '@lmflow/tensor';

export interface StepInputs {
  ids: Tensor;
  /** Absent when every row starts at the cache's length (no padding). */
  positions?: Tensor;
  segments?: Tensor;
}

/** Segment id of real tokens; padding takes 0, which no real token has. */
const REAL = 1;
const PADDING = 0;

/**
 * The prompt step: rows left-padded to the longest prompt. `padId` is any id the embedding
 * accepts (its rows are never attended).
 */
export function promptInputs(prompts: readonly (readonly number[])[], device: string, padId: number): StepInputs {
  const B = prompts.length;
  const T = Math.max(...prompts.map((p) => p.length));
  const padded = prompts.some((p) => p.length !== T);
  const ids = new Int32Array(B * T);
  const positions = padded ? new Int32Array(B * T) : null;
  const segments = padded ? new Int32Array(B * T) : null;
  prompts.forEach((prompt, b) => {
    const pad = T - prompt.length;
    for (let t = 0; t < T; t++) {
      const at = b * T + t;
      ids[at] = t < pad ? padId : prompt[t - pad]!;
      if (positions && segments) {
        positions[at] = t < pad ? 0 : t - pad;
        segments[at] = t < pad ? PADDING : REAL;
      }
    }
  });
  const shape = [B, T];
  return {
    ids: fromHostArray(ids, { shape, dtype: 'i32', device }),
    ...(positions && segments
      ? { positions: fromHostArray(positions, { shape, dtype: 'i32', device }), segments: fromHostArray(segments, { shape, dtype: 'i32', device }) }
      : {}),
  };
}

/**
 * A decoding step: `tokens[b]` (the same count T for every row) fed at positions
 * `nextPosition[b]`, `nextPosition[b] + 1`, ...; positions and segments only for padded batches.
 */
export function stepInputs(tokens: readonly (readonly number[])[], nextPosition: readonly number[], padded: boolean, device: string): StepInputs {
  const B = tokens.length;
  const T = tokens[0]!.length;
  const ids = new Int32Array(B * T);
  for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) ids[b * T + t] = tokens[b]![t]!;
  const shape = [B, T];
  if (!padded) return { ids: fromHostArray(ids, { shape, dtype: 'i32', device }) };
  const positions = new Int32Array(B * T);
  for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) positions[b * T + t] = nextPosition[b]! + t;
  return {
    ids: fromHostArray(ids, { shape, dtype: 'i32', device }),
    positions: fromHostArray(positions, { shape, dtype: 'i32', device }),
    segments: fromHostArray(new Int32Array(B * T).fill(REAL), { shape, dtype: 'i32', device }),
  };
}
