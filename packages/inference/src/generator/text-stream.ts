/**
 * A running generation as an async iterable of text deltas plus a promise of its result. The
 * generation starts at once and does not wait for a reader (deltas queue up); a reader that
 * stops early (`break` in for-await) cancels it, and the result then says 'abort'.
 */
import type { GenerationResult, TextDelta } from '../decode/result.js';

export type TextStream = AsyncIterable<TextDelta> & { result: Promise<GenerationResult> };

/**
 * `run` generates, calling `push` for each delta, and resolves to the result; `signal` fires
 * when the reader stops early.
 */
export function createTextStream(run: (push: (delta: TextDelta) => void, signal: AbortSignal) => Promise<GenerationResult>): TextStream {
  const controller = new AbortController();
  const queue: TextDelta[] = [];
  let done = false;
  let failure: { error: unknown } | null = null;
  let wake: (() => void) | null = null;
  const notify = () => {
    wake?.();
    wake = null;
  };
  const result = Promise.resolve()
    .then(() =>
      run((delta) => {
        queue.push(delta);
        notify();
      }, controller.signal),
    )
    .then(
      (value) => {
        done = true;
        notify();
        return value;
      },
      (error: unknown) => {
        done = true;
        failure = { error };
        notify();
        throw error;
      },
    );
  // A caller that only iterates still sees the error (next() throws it); without this line the
  // same rejection would also crash the process as unhandled.
  result.catch(() => {});

  let iterated = false;
  return {
    result,
    [Symbol.asyncIterator](): AsyncIterator<TextDelta> {
      if (iterated) throw new Error('a generation stream can be read once; keep the deltas, or await .result for the whole text');
      iterated = true;
      return {
        async next(): Promise<IteratorResult<TextDelta>> {
          for (;;) {
            const delta = queue.shift();
            if (delta) return { value: delta, done: false };
            if (failure) throw failure.error;
            if (done) return { value: undefined, done: true };
            await new Promise<void>((resolve) => (wake = resolve));
          }
        },
        async return(): Promise<IteratorResult<TextDelta>> {
          if (!done) controller.abort();
          queue.length = 0;
          return { value: undefined, done: true };
        },
      };
    },
  };
}
