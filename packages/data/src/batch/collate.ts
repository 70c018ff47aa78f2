/**
 * Collation: tokenized samples into a Batch of (B, T) i32 tensors, padded on the right to the
 * longest sample (or a fixed length). Padding gets the pad token (the tokenizer's pad_token,
 * else its EOS), label IGNORE_INDEX, and segment id 0, which no real token has, so no real
 * token ever attends to padding. data.hooks.collateBatch runs last.
 */
import { tensor } from '@lmflow/tensor';
import { IGNORE_INDEX, type Batch, type Runtime, type TokenizedSample } from '@lmflow/core';
import type { Tokenizer } from '../tokenizer/load-tokenizer.js';

export interface CollateOptions {
  /** The id of padding tokens; see padTokenIdOf. */
  padTokenId: number;
  /** Pad every row to this length (e.g. block_size); default: the longest sample. */
  length?: number;
  /** @default the tensor package's default device */
  device?: string;
  /** Its data.hooks.collateBatch is applied to the batch. */
  runtime?: Runtime;
}

/** The id padding uses: pad_token, else eos_token (as LMFlow and TRL do). */
export function padTokenIdOf(tokenizer: Tokenizer): number {
  const id = tokenizer.padTokenId ?? tokenizer.eosTokenId;
  if (id === null) throw new Error(`tokenizer ${tokenizer.path} has neither pad_token nor eos_token; set "pad_token" in tokenizer_config.json to pad batches`);
  return id;
}

/**
 * The batch of `samples`; the caller owns its tensors (dispose them, or collate inside tidy).
 * Shapes: inputIds, labels, positions, segments: (B, T) with B = samples.length.
 */
export function collateBatch(samples: readonly TokenizedSample[], options: CollateOptions): Batch {
  if (samples.length === 0) throw new Error('collateBatch: no samples');
  const longest = Math.max(...samples.map((s) => s.inputIds.length));
  const T = options.length ?? longest;
  if (longest > T) throw new Error(`collateBatch: a sample has ${longest} tokens, more than the batch length ${T}; truncate samples to block_size first`);
  if (T === 0) throw new Error('collateBatch: every sample is empty');
  const B = samples.length;
  const ids = new Int32Array(B * T).fill(options.padTokenId);
  const labels = new Int32Array(B * T).fill(IGNORE_INDEX);
  const positions = new Int32Array(B * T);
  const segments = new Int32Array(B * T);
  let needsSegments = false;
  let numTargetTokens = 0;
  samples.forEach((sample, b) => {
    const n = sample.inputIds.length;
    if (sample.labels.length !== n) throw new Error(`collateBatch: sample ${b} has ${n} inputIds but ${sample.labels.length} labels`);
    if (n < T || sample.segments) needsSegments = true;
    const row = b * T;
    for (let t = 0; t < n; t++) {
      ids[row + t] = sample.inputIds[t]!;
      labels[row + t] = sample.labels[t]!;
      positions[row + t] = sample.positions ? sample.positions[t]! : t;
      segments[row + t] = sample.segments ? sample.segments[t]! : 1;
      // The loss predicts labels[t] from position t - 1, so labels[0] never counts.
      if (t > 0 && sample.labels[t] !== IGNORE_INDEX) numTargetTokens++;
    }
    // Padding positions keep counting up from the sample's last one: in range for learned
    // position embeddings, and irrelevant otherwise (padding is never attended to or scored).
    const last = n === 0 ? -1 : positions[row + n - 1]!;
    for (let t = n; t < T; t++) positions[row + t] = last + (t - n) + 1;
  });
  const device = options.device;
  const make = (data: Int32Array) => tensor(data, { dtype: 'i32', shape: [B, T], ...(device ? { device } : {}) });
  let batch: Batch = {
    inputIds: make(ids),
    labels: make(labels),
    positions: make(positions),
    ...(needsSegments ? { segments: make(segments) } : {}),
    numTargetTokens,
  };
  const hooks = options.runtime?.data.hooks;
  if (hooks) batch = hooks.collateBatch.call(batch, { length: T, device: batch.inputIds.device });
  return batch;
}
