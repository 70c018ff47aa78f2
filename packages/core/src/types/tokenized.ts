/**
 * Samples after tokenization, and batches as the trainer consumes them.
 */
import type { Tensor } from '@lmflow/tensor';

/** The label of a token that contributes no loss (PyTorch's and LMFlow's ignore_index). */
export const IGNORE_INDEX = -100;

export interface TokenizedSample {
  inputIds: number[];
  /** Same length as inputIds; IGNORE_INDEX where no loss is taken. */
  labels: number[];
  /**
   * Position of each token (0, 1, ...), reset at sample borders when samples are packed into
   * one block. Absent means 0..n-1.
   */
  positions?: number[];
  /** Which packed sample each token belongs to (attention never crosses segments). */
  segments?: number[];
}

/** A batch on a device, ready for the model. Shapes (B, T). */
export interface Batch {
  inputIds: Tensor;
  labels: Tensor;
  positions: Tensor;
  /** Present when samples are packed or padded: attention stays within a segment. */
  segments?: Tensor;
  /** Tokens with a label (not IGNORE_INDEX): the loss denominator and tokens/s. */
  numTargetTokens: number;
}
