/**
 * Bounded concurrency with a bounded queue: at most `maxConcurrency` generations hold a slot,
 * at most `maxQueue` more wait for one in arrival order, and a request that finds the queue
 * full is refused at once with a 429 (the client backs off and retries) rather than piling up
 * memory and latency. A waiting request whose client goes away leaves the queue.
 */
import { ApiError } from '../http/api-error.js';

export interface AdmissionOptions {
  /** Generations that run at the same time. */
  maxConcurrency: number;
  /** Requests that may wait for a slot; one more is answered 429. */
  maxQueue: number;
}

/** Gives the slot back; calling it again does nothing. */
export type Release = () => void;

export interface Admission {
  /** Waits for a slot; rejects with a 429 ApiError when the queue is full, or with the signal's reason. */
  acquire(signal?: AbortSignal): Promise<Release>;
  readonly running: number;
  readonly waiting: number;
  /** Resolves once no request runs or waits. */
  idle(): Promise<void>;
}

interface Waiter {
  grant(release: Release): void;
}

export function createAdmission({ maxConcurrency, maxQueue }: AdmissionOptions): Admission {
  if (!Number.isInteger(maxConcurrency) || maxConcurrency < 1) throw new RangeError(`maxConcurrency is ${maxConcurrency}, expected an integer of at least 1`);
  if (!Number.isInteger(maxQueue) || maxQueue < 0) throw new RangeError(`maxQueue is ${maxQueue}, expected an integer of at least 0`);
  let running = 0;
  const queue: Waiter[] = [];
  let idleWaiters: (() => void)[] = [];

  const checkIdle = () => {
    if (running > 0 || queue.length > 0) return;
    const waiters = idleWaiters;
    idleWaiters = [];
    for (const resolve of waiters) resolve();
  };
  const makeRelease = (): Release => {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = queue.shift();
      // The slot passes straight to the next in line, so `running` never dips and lets a
      // newcomer overtake the queue.
      if (next) next.grant(makeRelease());
      else {
        running -= 1;
        checkIdle();
      }
    };
  };

  return {
    get running() {
      return running;
    },
    get waiting() {
      return queue.length;
    },
    acquire(signal) {
      if (signal?.aborted) return Promise.reject(signal.reason);
      if (running < maxConcurrency) {
        running += 1;
        return Promise.resolve(makeRelease());
      }
      if (queue.length >= maxQueue) {
        return Promise.reject(
          new ApiError(
            429,
            'rate_limit_error',
            `the server is busy: ${running} generations are running and ${queue.length} requests are waiting (lmflow serve --max_concurrency ${maxConcurrency} --max_queue ${maxQueue}); retry shortly`,
            { code: 'queue_full', headers: { 'Retry-After': '1' } },
          ),
        );
      }
      return new Promise<Release>((resolve, reject) => {
        const onAbort = () => {
          const at = queue.indexOf(waiter);
          if (at !== -1) queue.splice(at, 1);
          reject(signal!.reason);
          checkIdle();
        };
        const waiter: Waiter = {
          grant(release) {
            signal?.removeEventListener('abort', onAbort);
            resolve(release);
          },
        };
        queue.push(waiter);
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    },
    idle() {
      if (running === 0 && queue.length === 0) return Promise.resolve();
      return new Promise((resolve) => idleWaiters.push(resolve));
    },
  };
}
