/**
 * The language-modeling loss of a batch. Labels are aligned with the inputs (Hugging Face's
 * convention): the logits at position t predict labels[t + 1], so the targets are the labels
 * shifted left by one, with IGNORE_INDEX at the end of each row.
 */
import { cat, crossEntropy, full, tidy, type Tensor } from '@lmflow/tensor';
import { IGNORE_INDEX } from '@lmflow/core';

/**
 * The summed next-token cross-entropy over every labeled token of the batch (f32 scalar).
 * logits: (B, T, V); labels: (B, T) i32.
 * The caller divides by the number of labeled tokens of the whole accumulation window, so k
 * micro-batches give exactly the gradient of one batch k times larger.
 */
export function nextTokenLossSum(logits: Tensor, labels: Tensor): Tensor {
  return tidy(() => {
    const [B, T] = labels.shape as [number, number];
    // targets: (B, T), targets[:, t] = labels[:, t + 1], the last column ignored
    const targets = cat([labels.slice(1, 1, T), full([B, 1], IGNORE_INDEX, { dtype: labels.dtype, device: labels.device })], 1);
    return crossEntropy(logits, targets, { reduction: 'sum' });
  });
}
