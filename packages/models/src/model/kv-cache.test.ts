/** The KV cache: growth in blocks, limits, rewinding, and the checks that keep it consistent. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tensor, type Tensor } from '@lmflow/tensor';
import { expectClose } from '@lmflow/test-utils';
import { createKvCache, loadModel, type CausalLM } from '../index.js';
import { stories260K } from '../test-support/paths.js';

const GOLDEN = [1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338, 401, 396, 267];
const TOL = { atol: 1e-5, rtol: 1e-4 };
let model: CausalLM;

beforeAll(async () => {
  model = await loadModel(stories260K, { device: 'cpu' });
});

afterAll(() => {
  model.dispose();
});

const ids = (rows: number[][]) => tensor(rows, { dtype: 'i32' });
const run = (rows: number[][], cache?: ReturnType<typeof createKvCache>): Tensor => model.forward(ids(rows), { cache });

describe('KvCache', () => {
  it('grows in blocks of blockSize up to maxLength, keeping what it holds', async () => {
    const cache = createKvCache(model, { batch: 1, maxLength: 18, blockSize: 8 });
    expect([cache.length, cache.capacity]).toEqual([0, 0]);
    run([GOLDEN.slice(0, 3)], cache);
    expect([cache.length, cache.capacity]).toEqual([3, 8]);
    const sizes: number[] = [];
    const stepped: number[][] = [];
    for (let t = 3; t < 18; t++) {
      stepped.push(run([[GOLDEN[t % 20]!]], cache).toFlatArray());
      sizes.push(cache.capacity);
    }
    // 8 -> 16 at the 9th token, then 18 (maxLength) at the 17th.
    expect(sizes).toEqual([8, 8, 8, 8, 8, 16, 16, 16, 16, 16, 16, 16, 16, 18, 18]);
    const full = run([[...GOLDEN.slice(0, 3), ...Array.from({ length: 15 }, (_, i) => GOLDEN[(3 + i) % 20]!)]]);
    stepped.forEach((logits, i) => expectClose(logits, full.select(1, 3 + i).toFlatArray(), TOL, `token ${3 + i}`));
    expect(() => run([[5]], cache)).toThrow("forward: 1 new tokens after 18 cached exceed the cache's maxLength of 18");
    cache.dispose();
  });

  it('truncate rewinds (rejected speculative tokens) and reset starts over', () => {
    const cache = createKvCache(model, { batch: 1 });
    run([GOLDEN.slice(0, 6)], cache);
    const next = run([[GOLDEN[6]!]], cache).toFlatArray();
    run([[99]], cache);
    run([[101]], cache);
    expect(cache.length).toBe(9);
    cache.truncate(6);
    expect(run([[GOLDEN[6]!]], cache).toFlatArray()).toEqual(next);
    cache.reset();
    expect(cache.length).toBe(0);
    expectClose(run([GOLDEN.slice(0, 7)], cache).select(1, 6).toFlatArray(), next, TOL, 'after reset');
    expect(() => cache.truncate(8)).toThrow('KvCache.truncate: n must be an integer in [0, 7] (the cached length), got 8');
    cache.dispose();
  });

  it('runs without autograd even when parameters require grad', () => {
    const [, embed] = model.namedParameters()[0]!;
    embed.requiresGrad = true;
    try {
      const cache = createKvCache(model, { batch: 1 });
      const logits = run([GOLDEN.slice(0, 2)], cache);
      expect(logits.requiresGrad).toBe(false);
      expect(run([GOLDEN.slice(0, 2)]).requiresGrad).toBe(true);
      cache.dispose();
    } finally {
      embed.requiresGrad = false;
    }
  });

  it('names the problem with a cache that does not fit the call', async () => {
    const cache = createKvCache(model, { batch: 2 });
    expect(() => run([[1]], cache)).toThrow('forward: input_ids have batch 1 but the cache was created for batch 2');
    cache.dispose();
    expect(() => run([[1], [1]], cache)).toThrow('forward: options.cache was disposed');
    expect(() => model.forward(ids([[1]]), { cache: {} as never })).toThrow('forward: options.cache is not a KvCache from createKvCache');
    const other = await loadModel(stories260K, { device: 'reference' });
    const foreign = createKvCache(other, { batch: 1 });
    expect(() => run([[1]], foreign)).toThrow('forward: options.cache was made for another model (5 layers x 4 kv heads x 8, f32 on reference)');
    other.dispose();
    expect(() => createKvCache(model, { batch: 0 })).toThrow('createKvCache: batch must be a positive integer, got 0');
    expect(() => createKvCache(model, { batch: 1, blockSize: 1.5 })).toThrow('createKvCache: blockSize must be a positive integer, got 1.5');
  });

  it('checks forward inputs', () => {
    expect(() => model.forward(tensor([1, 2], { dtype: 'i32' }))).toThrow('forward: inputIds must be i32 token ids of shape (batch, time)');
    expect(() => model.forward(tensor([[1, 2]]))).toThrow('forward: inputIds must be i32 token ids');
    expect(() => model.forward(ids([[1, 2]]), { positions: ids([[0, 1, 2]]) })).toThrow('forward: options.positions must have shape [1, 2] or [2]');
    expect(() => model.forward(ids([[1, 2]]), { segments: tensor([[0, 1]]) })).toThrow('forward: options.segments must be i32');
    expect(() => model.forward(ids([[1, 600]]))).toThrow(/out of range/);
  });
});
