import { describe, expect, it } from 'vitest';
import { ApiError } from '../http/api-error.js';
import { createAdmission } from './admission.js';

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('createAdmission', () => {
  it('runs up to maxConcurrency at once and hands slots to waiters in arrival order', async () => {
    const admission = createAdmission({ maxConcurrency: 2, maxQueue: 3 });
    const first = await admission.acquire();
    const second = await admission.acquire();
    const order: number[] = [];
    const waiting = [3, 4, 5].map((n) => admission.acquire().then((release) => (order.push(n), release)));
    await tick();
    expect([admission.running, admission.waiting, order]).toEqual([2, 3, []]);

    first();
    first(); // a second call gives nothing back twice
    await tick();
    expect([admission.running, admission.waiting, order]).toEqual([2, 2, [3]]);
    second();
    await tick();
    expect(order).toEqual([3, 4]);
    for (const release of await Promise.all(waiting.slice(0, 2))) release();
    await tick();
    expect(order).toEqual([3, 4, 5]);
    (await waiting[2]!)();
    expect([admission.running, admission.waiting]).toEqual([0, 0]);
  });

  it('refuses with a 429 ApiError when the queue is full', async () => {
    const admission = createAdmission({ maxConcurrency: 1, maxQueue: 1 });
    const release = await admission.acquire();
    const queued = admission.acquire();
    const refused = await admission.acquire().catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ApiError);
    expect(refused).toMatchObject({ status: 429, type: 'rate_limit_error', code: 'queue_full', headers: { 'Retry-After': '1' } });
    expect((refused as ApiError).message).toBe(
      'the server is busy: 1 generations are running and 1 requests are waiting (lmflow serve --max_concurrency 1 --max_queue 1); retry shortly',
    );
    release();
    (await queued)();
  });

  it('takes an aborted waiter out of the queue, and idle() waits for the last release', async () => {
    const admission = createAdmission({ maxConcurrency: 1, maxQueue: 2 });
    const release = await admission.acquire();
    const controller = new AbortController();
    const leaving = admission.acquire(controller.signal);
    const staying = admission.acquire();
    controller.abort(new Error('client gone'));
    await expect(leaving).rejects.toThrow('client gone');
    expect(admission.waiting).toBe(1);

    let idle = false;
    void admission.idle().then(() => (idle = true));
    release();
    await tick();
    expect(idle).toBe(false);
    (await staying)();
    await tick();
    expect(idle).toBe(true);
    await expect(admission.acquire(controller.signal)).rejects.toThrow('client gone');
  });

  it('checks its limits', () => {
    expect(() => createAdmission({ maxConcurrency: 0, maxQueue: 1 })).toThrow('maxConcurrency is 0, expected an integer of at least 1');
    expect(() => createAdmission({ maxConcurrency: 1, maxQueue: -1 })).toThrow('maxQueue is -1, expected an integer of at least 0');
  });
});
