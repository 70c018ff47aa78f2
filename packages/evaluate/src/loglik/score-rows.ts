/**
 * Log-likelihoods of token rows, the one model computation behind nll, ppl and mc_loglik:
 * rows are batched (longest first, so a batch pads little), right-padded, and padding is kept
 * out of attention by segment ids (collateBatch gives padding segment 0, which no real token
 * has) and out of the sums by IGNORE_INDEX labels.
 */
import { cat, crossEntropy, full, noGrad, tidy } from '@lmflow/tensor';
import { IGNORE_INDEX, type TokenizedSample } from '@lmflow/core';
import { collateBatch } from '@lmflow/data';
import type { CausalLM } from '@lmflow/models';

export interface ScoreRow {
  /** The tokens the model reads. */
  readonly ids: readonly number[];
  /**
   * Same length as ids: the token where its log-likelihood counts, IGNORE_INDEX where it does
   * not. labels[0] never counts (nothing comes before it to predict it from).
   */
  readonly labels: readonly number[];
}

/** A row whose tokens from targetStart on are scored (targetStart >= 1). */
export function suffixRow(ids: readonly number[], targetStart: number): ScoreRow {
  if (!(Number.isInteger(targetStart) && targetStart >= 1 && targetStart <= ids.length)) {
    throw new Error(`suffixRow: targetStart is ${targetStart}, expected 1..${ids.length} (the first token has nothing before it to be predicted from)`);
  }
  return { ids, labels: ids.map((id, t) => (t >= targetStart ? id : IGNORE_INDEX)) };
}

export interface RowScore {
  /** Summed negative log-likelihood (nats) of the labeled tokens. */
  nll: number;
  /** Tokens scored (labels other than IGNORE_INDEX, the first position aside). */
  tokens: number;
}

export interface ScoreOptions {
  /** Rows per forward pass. */
  batchSize: number;
  /** The id padding uses (padTokenIdOf(tokenizer)); it is never attended to or scored. */
  padTokenId: number;
  /** Called after each batch with the number of rows scored so far. */
  onProgress?: (done: number) => void;
}

export function scoreRows(model: CausalLM, rows: readonly ScoreRow[], options: ScoreOptions): RowScore[] {
  rows.forEach((row, i) => {
    if (row.labels.length !== row.ids.length) throw new Error(`scoreRows: row ${i} has ${row.ids.length} ids but ${row.labels.length} labels`);
    if (row.ids.length > model.maxPositions) {
      throw new Error(`scoreRows: row ${i} has ${row.ids.length} tokens, more than the model's ${model.maxPositions} positions`);
    }
  });
  const order = rows.map((_, i) => i).sort((a, b) => rows[b]!.ids.length - rows[a]!.ids.length);
  const scores: RowScore[] = new Array(rows.length);
  for (let start = 0; start < order.length; start += options.batchSize) {
    const chunk = order.slice(start, start + options.batchSize);
    const samples: TokenizedSample[] = chunk.map((i) => ({ inputIds: [...rows[i]!.ids], labels: [...rows[i]!.labels] }));
    // losses: (B, T) f32, the loss of predicting token t + 1 at position t; 0 where ignored
    const losses = noGrad(() =>
      tidy(() => {
        const batch = collateBatch(samples, { padTokenId: options.padTokenId, device: model.device });
        const [B, T] = batch.labels.shape as [number, number];
        const logits = model.forward(batch.inputIds, { positions: batch.positions, ...(batch.segments ? { segments: batch.segments } : {}) });
        // targets: (B, T), targets[:, t] = labels[:, t + 1], the last column ignored
        const targets = cat([batch.labels.slice(1, 1, T), full([B, 1], IGNORE_INDEX, { dtype: 'i32', device: model.device })], 1);
        return { T, values: crossEntropy(logits, targets, { reduction: 'none' }).toFlatArray() };
      }),
    );
    chunk.forEach((rowIndex, b) => {
      const { labels } = rows[rowIndex]!;
      let nll = 0;
      let tokens = 0;
      for (let t = 1; t < labels.length; t++) {
        if (labels[t] === IGNORE_INDEX) continue;
        nll += losses.values[b * losses.T + t - 1]!;
        tokens++;
      }
      scores[rowIndex] = { nll, tokens };
    });
    options.onProgress?.(Math.min(start + options.batchSize, order.length));
  }
  return scores;
}
