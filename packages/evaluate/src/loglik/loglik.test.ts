import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logSoftmax, noGrad, tensor, tidy } from '@lmflow/tensor';
import { loadModel, loadTokenizer, type CausalLM, type Tokenizer } from '@lmflow/models';
import { scoreRows, suffixRow } from './score-rows.js';
import { slidingWindowPerplexity, slidingWindows } from './sliding-window.js';
import { STORY, stories260K } from '../test-support/paths.js';

let model: CausalLM;
let tokenizer: Tokenizer;
beforeAll(async () => {
  model = await loadModel(stories260K, { device: 'cpu' });
  tokenizer = await loadTokenizer(stories260K);
});
afterAll(() => model.dispose());

/** The NLL of ids[1..] in one full-context forward pass, through logSoftmax (not crossEntropy). */
function directNll(ids: number[]): number {
  const logProbs = noGrad(() =>
    tidy(() => logSoftmax(model.forward(tensor(new Int32Array(ids), { dtype: 'i32', shape: [1, ids.length], device: 'cpu' }))).toFlatArray()),
  );
  const V = model.vocabSize;
  let nll = 0;
  for (let t = 0; t + 1 < ids.length; t++) nll -= logProbs[t * V + ids[t + 1]!]!;
  return nll;
}

describe('slidingWindows', () => {
  it('scores every token after the first exactly once, with the context the stride leaves', () => {
    for (const [length, maxLength, stride] of [[10, 4, 2], [10, 4, 4], [9, 5, 3], [3, 8, 2], [100, 32, 7]] as const) {
      const windows = slidingWindows(length, maxLength, stride);
      const scored = windows.flatMap((w) => Array.from({ length: w.end - w.targetStart }, (_, k) => w.targetStart + k));
      expect(scored).toEqual(Array.from({ length: length - 1 }, (_, k) => k + 1));
      for (const w of windows) expect(w.end - w.start).toBeLessThanOrEqual(maxLength);
    }
    expect(slidingWindows(10, 4, 2)).toEqual([
      { start: 0, end: 4, targetStart: 1 },
      { start: 2, end: 6, targetStart: 4 },
      { start: 4, end: 8, targetStart: 6 },
      { start: 6, end: 10, targetStart: 8 },
    ]);
    expect(() => slidingWindows(10, 4, 5)).toThrow('stride 5 must be an integer in 1..4');
  });
});

describe('scoreRows and slidingWindowPerplexity with stories260K', () => {
  const ids = () => tokenizer.encode(STORY);

  it('the sliding-window value matches a direct full-context computation when the text fits', () => {
    const all = ids();
    expect(all.length).toBeLessThan(model.maxPositions);
    const direct = directNll(all);
    const result = slidingWindowPerplexity(model, all, { maxLength: 512, stride: 512, batchSize: 4, padTokenId: 0 });
    expect(result.windows).toHaveLength(1);
    expect(result.tokens).toBe(all.length - 1);
    expect(result.nll).toBeCloseTo(direct, 2);
    expect(result.perplexity).toBeCloseTo(Math.exp(direct / (all.length - 1)), 3);
  });

  it('is finite and far lower on its own kind of text than on the same tokens shuffled', () => {
    const all = ids();
    const story = slidingWindowPerplexity(model, all, { maxLength: 512, stride: 512, batchSize: 4, padTokenId: 0 });
    // A fixed permutation of the tokens after BOS: same tokens, no language.
    const rest = all.slice(1);
    const shuffled = [all[0]!, ...rest.map((_, i) => rest[(i * 37 + 11) % rest.length]!)];
    expect(new Set(shuffled).size).toBe(new Set(all).size);
    const noise = slidingWindowPerplexity(model, shuffled, { maxLength: 512, stride: 512, batchSize: 4, padTokenId: 0 });
    expect(Number.isFinite(story.perplexity)).toBe(true);
    expect(story.perplexity).toBeGreaterThan(1);
    expect(story.perplexity).toBeLessThan(10);
    expect(noise.perplexity).toBeGreaterThan(story.perplexity * 5);
  });

  it('short windows give less context: each window is its own forward, and the total matches windows scored one by one', () => {
    const all = ids();
    const result = slidingWindowPerplexity(model, all, { maxLength: 24, stride: 8, batchSize: 3, padTokenId: 0 });
    expect(result.tokens).toBe(all.length - 1);
    expect(result.windows.length).toBe(Math.ceil((all.length - 24) / 8) + 1);
    let total = 0;
    for (const w of result.windows) {
      const window = all.slice(w.start, w.end);
      const logits = directNll(window);
      // The window's scored part: its NLL minus the NLL of the unscored prefix.
      const prefix = w.targetStart - w.start > 1 ? directNll(window.slice(0, w.targetStart - w.start)) : 0;
      expect(w.nll).toBeCloseTo(logits - prefix, 2);
      total += w.nll;
    }
    expect(result.nll).toBeCloseTo(total, 6);
    const full = slidingWindowPerplexity(model, all, { maxLength: 512, stride: 512, batchSize: 1, padTokenId: 0 });
    expect(result.perplexity).toBeGreaterThan(full.perplexity);
  });

  it('batches rows of different lengths exactly as one by one: padding is never attended to or scored', () => {
    const all = ids();
    const rows = [suffixRow(all.slice(0, 30), 10), suffixRow(all.slice(5, 12), 1), suffixRow(all, 40), suffixRow(all.slice(0, 2), 1)];
    const alone = rows.map((row) => scoreRows(model, [row], { batchSize: 1, padTokenId: 0 })[0]!);
    const together = scoreRows(model, rows, { batchSize: 4, padTokenId: 0 });
    together.forEach((score, i) => {
      expect(score.tokens).toBe(alone[i]!.tokens);
      expect(score.nll).toBeCloseTo(alone[i]!.nll, 3);
    });
    expect(together.map((s) => s.tokens)).toEqual([20, 6, all.length - 40, 1]);
    expect(() => suffixRow([1, 2], 0)).toThrow('targetStart is 0, expected 1..2');
  });
});
