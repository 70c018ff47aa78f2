/**
 * Eval loss and perplexity: the mean next-token cross-entropy over every labeled token of the
 * eval samples (not the mean of batch means, so the batch size does not change the figure).
 */
import { noGrad, tidy } from '@lmflow/tensor';
import type { TokenizedSample } from '@lmflow/core';
import { collateBatch } from '@lmflow/data';
import type { CausalLM } from '@lmflow/models';
import { nextTokenLossSum } from './lm-loss.js';

export interface EvalResult {
  loss: number;
  perplexity: number;
  /** Labeled tokens scored. */
  tokens: number;
}

export function evaluateLoss(model: CausalLM, samples: readonly TokenizedSample[], options: { batchSize: number; padTokenId: number }): EvalResult {
  let sum = 0;
  let tokens = 0;
  for (let start = 0; start < samples.length; start += options.batchSize) {
    const chunk = samples.slice(start, start + options.batchSize);
    sum += noGrad(() =>
      tidy(() => {
        const batch = collateBatch(chunk, { padTokenId: options.padTokenId, device: model.device });
        tokens += batch.numTargetTokens;
        const logits = model.forward(batch.inputIds, { positions: batch.positions, ...(batch.segments ? { segments: batch.segments } : {}) });
        return nextTokenLossSum(logits, batch.labels).item();
      }),
    );
  }
  const loss = tokens > 0 ? sum / tokens : NaN;
  return { loss, perplexity: Math.exp(loss), tokens };
}
