import { describe, expect, it } from 'vitest';
import { tidy } from '@lmflow/tensor';
import { createRuntime, IGNORE_INDEX, type Plugin } from '@lmflow/core';
import { collateBatch, padTokenIdOf } from './collate.js';
import { packSamples } from './pack.js';
import { loadTokenizer } from '../tokenizer/load-tokenizer.js';
import { gpt2Dir, llama2Dir, qwen3Dir } from '../test-fixtures.js';

const X = IGNORE_INDEX;

describe('collateBatch', () => {
  it('pads on the right with the pad id, labels ignored and segment 0 on padding', () => {
    tidy(() => {
      const batch = collateBatch(
        [
          { inputIds: [5, 6, 7], labels: [X, 6, 7] },
          { inputIds: [8], labels: [8] },
        ],
        { padTokenId: 0, device: 'cpu' },
      );
      expect([batch.inputIds.shape, batch.inputIds.dtype, batch.inputIds.device]).toEqual([[2, 3], 'i32', 'cpu']);
      expect(batch.inputIds.toArray()).toEqual([[5, 6, 7], [8, 0, 0]]);
      expect(batch.labels.toArray()).toEqual([[X, 6, 7], [8, X, X]]);
      expect(batch.positions.toArray()).toEqual([[0, 1, 2], [0, 1, 2]]);
      expect(batch.segments!.toArray()).toEqual([[1, 1, 1], [1, 0, 0]]);
      // labels[b][0] is never predicted (the loss shifts by one): 6 and 7 count, the lone 8 does not.
      expect(batch.numTargetTokens).toBe(2);
    });
  });

  it('pads to a fixed length, and omits segments when nothing is padded or packed', () => {
    tidy(() => {
      const fixed = collateBatch([{ inputIds: [1, 2], labels: [1, 2] }], { padTokenId: 9, length: 4, device: 'reference' });
      expect(fixed.inputIds.toArray()).toEqual([[1, 2, 9, 9]]);
      expect(fixed.positions.toArray()).toEqual([[0, 1, 2, 3]]);
      const full = collateBatch([{ inputIds: [1, 2], labels: [1, 2] }, { inputIds: [3, 4], labels: [X, 4] }], { padTokenId: 9 });
      expect(full.segments).toBeUndefined();
      expect(full.numTargetTokens).toBe(2);
      expect(() => collateBatch([{ inputIds: [1, 2, 3], labels: [1, 2, 3] }], { padTokenId: 0, length: 2 })).toThrow('collateBatch: a sample has 3 tokens, more than the batch length 2');
    });
  });

  it('carries packed positions and segments into the batch', () => {
    tidy(() => {
      const blocks = packSamples([{ inputIds: [1, 2], labels: [1, 2] }, { inputIds: [3, 4, 5], labels: [3, 4, 5] }, { inputIds: [6, 7, 8, 9], labels: [6, 7, 8, 9] }], 5);
      const batch = collateBatch(blocks, { padTokenId: 0, length: 5 });
      expect(batch.inputIds.toArray()).toEqual([[1, 2, 3, 4, 5], [6, 7, 8, 9, 0]]);
      expect(batch.labels.toArray()).toEqual([[X, 2, X, 4, 5], [X, 7, 8, 9, X]]);
      expect(batch.positions.toArray()).toEqual([[0, 1, 0, 1, 2], [0, 1, 2, 3, 4]]);
      expect(batch.segments!.toArray()).toEqual([[1, 1, 2, 2, 2], [1, 1, 1, 1, 0]]);
      expect(batch.numTargetTokens).toBe(6);
    });
  });

  it('applies data.hooks.collateBatch with the length and device', () => {
    const seen: unknown[] = [];
    const plugin: Plugin = {
      name: 'count',
      apply(runtime) {
        runtime.data.hooks.collateBatch.tap('count', (batch, context) => {
          seen.push(context);
          return { ...batch, numTargetTokens: batch.numTargetTokens + 100 };
        });
      },
    };
    tidy(() => {
      const batch = collateBatch([{ inputIds: [1, 2], labels: [1, 2] }], { padTokenId: 0, length: 3, device: 'cpu', runtime: createRuntime({ plugins: [plugin] }) });
      expect(batch.numTargetTokens).toBe(101);
    });
    expect(seen).toEqual([{ length: 3, device: 'cpu' }]);
  });

  it('pads with pad_token, else EOS, and says when a tokenizer has neither', async () => {
    const [qwen, gpt2, llama] = await Promise.all([loadTokenizer(qwen3Dir), loadTokenizer(gpt2Dir), loadTokenizer(llama2Dir)]);
    expect(padTokenIdOf(qwen)).toBe(151643);
    expect(padTokenIdOf(gpt2)).toBe(50256);
    expect(padTokenIdOf(llama)).toBe(2);
    expect(() => padTokenIdOf({ ...llama, padTokenId: null, eosTokenId: null, path: '/m' })).toThrow('tokenizer /m has neither pad_token nor eos_token; set "pad_token" in tokenizer_config.json to pad batches');
  });
});
