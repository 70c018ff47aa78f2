/**
 * Stops a run whose loss became NaN or infinite, with a message that says where it happened
 * and what to resume from. A diverged run never gets better, and every step after it would
 * overwrite good weights with NaN; the loop stops before saving anything more.
 */

export interface LossGuard {
  /** Records a checkpoint written while the loss was still finite. */
  checkpointSaved(step: number, path: string): void;
  /**
   * Checks a step's loss. Returns null while it is finite; otherwise the message to stop
   * with (also available as a NonFiniteLossError from `assertFinite`).
   */
  check(step: number, loss: number): string | null;
  /** Throws a NonFiniteLossError when the loss is not finite. */
  assertFinite(step: number, loss: number): void;
  /** The last checkpoint recorded, if any. */
  readonly lastGoodCheckpoint: { step: number; path: string } | null;
}

export class NonFiniteLossError extends Error {
  constructor(
    message: string,
    readonly step: number,
    readonly loss: number,
    readonly lastGoodCheckpoint: string | null,
  ) {
    super(message);
    this.name = 'NonFiniteLossError';
  }
}

export interface LossGuardOptions {
  /** A checkpoint the run resumed from, which counts as good until a newer one is saved. */
  resumedFrom?: { step: number; path: string } | null;
}

export function createLossGuard(options: LossGuardOptions = {}): LossGuard {
  let last = options.resumedFrom ?? null;

  function message(step: number, loss: number): string {
    const what = Number.isNaN(loss) ? 'NaN' : loss > 0 ? 'infinite' : '-infinite';
    const advice = 'Lower --learning_rate, set --max_grad_norm, or check the data around this step (bf16/fp16 overflow is a common cause)';
    return last
      ? `stopping: the loss at step ${step} became ${what}. The last good checkpoint is ${last.path} (step ${last.step}). ${advice}, then resume with --resume_from_checkpoint ${last.path}`
      : `stopping: the loss at step ${step} became ${what}. No checkpoint was saved before it. ${advice}, then start the run again`;
  }

  return {
    checkpointSaved(step, path) {
      last = { step, path };
    },
    check(step, loss) {
      return Number.isFinite(loss) ? null : message(step, loss);
    },
    assertFinite(step, loss) {
      if (!Number.isFinite(loss)) throw new NonFiniteLossError(message(step, loss), step, loss, last?.path ?? null);
    },
    get lastGoodCheckpoint() {
      return last;
    },
  };
}
