import { describe, expect, it } from 'vitest';
import { NonFiniteLossError, createLossGuard } from './loss-guard.js';

describe('loss guard', () => {
  it('passes finite losses and stops at NaN naming the step and the last good checkpoint', () => {
    const guard = createLossGuard();
    expect(guard.check(1, 2.5)).toBeNull();
    guard.checkpointSaved(10, 'out/checkpoint-10');
    guard.checkpointSaved(20, 'out/checkpoint-20');
    expect(guard.check(25, 1e30)).toBeNull();
    expect(guard.check(27, NaN)).toBe(
      'stopping: the loss at step 27 became NaN. The last good checkpoint is out/checkpoint-20 (step 20). Lower --learning_rate, set --max_grad_norm, or check the data around this step (bf16/fp16 overflow is a common cause), then resume with --resume_from_checkpoint out/checkpoint-20',
    );
    expect(guard.lastGoodCheckpoint).toEqual({ step: 20, path: 'out/checkpoint-20' });
  });

  it('infinite losses, no checkpoint yet, and the thrown form', () => {
    const guard = createLossGuard();
    expect(guard.check(3, Infinity)).toMatch(/^stopping: the loss at step 3 became infinite\. No checkpoint was saved before it\. Lower .*, then start the run again$/);
    expect(guard.check(3, -Infinity)).toMatch(/became -infinite/);
    let error: unknown;
    try {
      createLossGuard({ resumedFrom: { step: 50, path: 'o/checkpoint-50' } }).assertFinite(51, NaN);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(NonFiniteLossError);
    expect(error).toMatchObject({ step: 51, lastGoodCheckpoint: 'o/checkpoint-50', message: expect.stringContaining('step 51 became NaN. The last good checkpoint is o/checkpoint-50 (step 50)') });
    expect(() => createLossGuard().assertFinite(1, 0.5)).not.toThrow();
  });
});
