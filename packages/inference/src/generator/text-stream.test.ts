import { describe, expect, it } from 'vitest';
import { createTextStream } from './text-stream.js';
import type { GenerationResult } from '../decode/result.js';

const result = (text: string): GenerationResult => ({ text, tokenIds: [], finishReason: 'length', usage: { promptTokens: 0, completionTokens: 0 } });
const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('createTextStream', () => {
  it('delivers queued and later deltas in order, then ends; result resolves', async () => {
    const stream = createTextStream(async (push) => {
      push({ text: 'a', tokenIds: [1] });
      await tick();
      push({ text: 'b', tokenIds: [2] });
      return result('ab');
    });
    const texts: string[] = [];
    for await (const delta of stream) texts.push(delta.text);
    expect(texts).toEqual(['a', 'b']);
    expect((await stream.result).text).toBe('ab');
    expect(() => stream[Symbol.asyncIterator]()).toThrow(/can be read once/);
  });

  it('a reader that stops early fires the abort signal', async () => {
    let signalled = false;
    const stream = createTextStream(async (push, signal) => {
      for (let i = 0; i < 100 && !signal.aborted; i++) {
        push({ text: String(i), tokenIds: [i] });
        await tick();
      }
      signalled = signal.aborted;
      return result('');
    });
    for await (const delta of stream) if (delta.text === '2') break;
    await stream.result;
    expect(signalled).toBe(true);
  });

  it('an error reaches both the reader and result, and is never unhandled', async () => {
    const failing = () =>
      createTextStream(async (push) => {
        push({ text: 'x', tokenIds: [] });
        await tick();
        throw new Error('model fell over');
      });
    const read = failing();
    const texts: string[] = [];
    await expect(
      (async () => {
        for await (const delta of read) texts.push(delta.text);
      })(),
    ).rejects.toThrow('model fell over');
    expect(texts).toEqual(['x']);
    await expect(read.result).rejects.toThrow('model fell over');
    // Nobody reads this one: its rejection must not crash the process.
    failing();
    await tick();
    await tick();
  });
});
