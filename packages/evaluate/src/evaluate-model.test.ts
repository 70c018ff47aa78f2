import { readFile } from 'node:fs/promises';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Dataset, DatasetType } from '@lmflow/core';
import { logSoftmax, noGrad, tensor, tidy } from '@lmflow/tensor';
import { loadModel, loadTokenizer, type CausalLM, type Tokenizer } from '@lmflow/models';
import { createGenerator } from '@lmflow/inference';
import { evaluateModel } from './evaluate-model.js';
import { formatSummary, writeResults } from './results/results-file.js';
import { STORY, stories260K } from './test-support/paths.js';

let model: CausalLM;
let tokenizer: Tokenizer;
beforeAll(async () => {
  model = await loadModel(stories260K, { device: 'cpu' });
  tokenizer = await loadTokenizer(stories260K);
});
afterAll(() => model.dispose());

function dataset(type: DatasetType, instances: unknown[]): Dataset {
  return { type, instances: instances as Dataset['instances'], origins: instances.map((_, index) => ({ file: '/data/eval.json', index })) };
}

/** log p(ids[t]) for t >= from, given ids[0..t-1], from one full forward pass. */
function logLikelihood(ids: number[], from: number): number {
  const logProbs = noGrad(() => tidy(() => logSoftmax(model.forward(tensor(new Int32Array(ids), { dtype: 'i32', shape: [1, ids.length], device: 'cpu' }))).toFlatArray()));
  let sum = 0;
  for (let t = from; t < ids.length; t++) sum += logProbs[(t - 1) * model.vocabSize + ids[t]!]!;
  return sum;
}

// Sentences the model sees three times and must complete: the right ending is made certain.
// (No leading space on options: this Llama tokenizer starts every encoded text with one.)
const REPEATED = [
  ['Lily had a red ball.', 'Lily had a red', 'ball.', ['car.', 'moon.', 'tree.']],
  ['Tom saw a big dog.', 'Tom saw a big', 'dog.', ['cake.', 'boat.', 'hat.']],
  ['The sun was hot and bright.', 'The sun was hot and', 'bright.', ['green.', 'slow.', 'quiet.']],
  ['Mom made a yummy cake.', 'Mom made a yummy', 'cake.', ['rock.', 'shoe.', 'bird.']],
] as const;

describe('evaluateModel with stories260K', () => {
  it('mc_loglik picks the option the question makes certain (repeated text), and the scores are the direct log-likelihoods', async () => {
    const instances = REPEATED.map(([sentence, stem, right, wrong], k) => ({
      input: `${sentence} ${sentence} ${sentence} ${stem}`,
      // The right option sits at a different place in each instance.
      output: [...wrong.slice(0, k % 4), right, ...wrong.slice(k % 4)].map((text) => ({ text, score: text === right ? 1 : 0 })),
    }));
    const result = await evaluateModel(dataset('text_to_scored_textlist', instances), { metric: 'mc_loglik', batchSize: 3 }, { model, tokenizer });
    expect(result.summary).toMatchObject({ accuracy: 1, accuracy_sum: 1, accuracy_per_byte: 1, correct: 4, total: 4, chance: 0.25 });
    const first = result.samples[0] as unknown as { choices: { text: string; loglik: number; tokens: number }[]; prediction: string; gold: string };
    expect([first.prediction, first.gold]).toEqual(['0', '0']);
    const context = tokenizer.encode(instances[0]!.input, { addSpecialTokens: false });
    for (const choice of first.choices) {
      const option = tokenizer.encode(choice.text, { addSpecialTokens: false });
      expect(choice.tokens).toBe(option.length);
      expect(choice.loglik).toBeCloseTo(logLikelihood([...context, ...option], context.length), 2);
    }
    // Marking a wrong option as right: every answer is now wrong.
    const flipped = instances.map((i) => ({ ...i, output: i.output.map((c) => ({ text: c.text, score: c.score === 1 ? 0 : c.text === i.output.find((o) => o.score === 0)!.text ? 1 : 0 })) }));
    const wrong = await evaluateModel(dataset('text_to_scored_textlist', flipped), { metric: 'mc_loglik' }, { model, tokenizer });
    expect(wrong.summary.accuracy).toBe(0);
  });

  it('mc_loglik on text2text questions with lettered options; length normalisation is an option', async () => {
    const instances = REPEATED.map(([sentence, stem, right, wrong]) => ({
      input: `A. ${wrong[0]}\nB. ${right}\nC. ${wrong[1]}\n${sentence} ${sentence} ${sentence} ${stem}`,
      output: 'B',
    }));
    const sum = await evaluateModel(dataset('text2text', instances), { metric: 'mc_loglik', answerType: 'multiple_choice' }, { model, tokenizer });
    const norm = await evaluateModel(dataset('text2text', instances), { metric: 'mc_loglik', lengthNormalize: true }, { model, tokenizer });
    expect(sum.summary.total).toBe(4);
    expect(sum.summary.accuracy).toBe(sum.summary.accuracy_sum);
    expect(norm.summary.accuracy).toBe(norm.summary.accuracy_per_byte);
    expect(norm.summary.accuracy_sum).toBe(sum.summary.accuracy_sum);
    expect(sum.summary.accuracy_sum).toBeGreaterThanOrEqual(0.75);
  });

  it("nll is LMFlow's: the mean over samples of the summed NLL of the output tokens (EOS included)", async () => {
    const instances = [
      { input: 'Once upon a time, there was a little girl named', output: ' Lily.' },
      { input: 'Tom and Sam went to the', output: ' park to play with a ball.' },
      { input: 'The cat', output: ' sat on the mat.' },
    ];
    const result = await evaluateModel(dataset('text2text', instances), { metric: 'nll', batchSize: 2 }, { model, tokenizer });
    const sums = instances.map(({ input, output }) => {
      const prompt = tokenizer.encode(input, { addSpecialTokens: false });
      const answer = [...tokenizer.encode(output, { addSpecialTokens: false }), 2];
      return { nll: -logLikelihood([...prompt, ...answer], prompt.length), tokens: answer.length };
    });
    const total = sums.reduce((s, x) => s + x.nll, 0);
    const tokens = sums.reduce((s, x) => s + x.tokens, 0);
    expect(result.summary.samples).toBe(3);
    expect(result.summary.tokens).toBe(tokens);
    expect(result.summary.nll).toBeCloseTo(total / 3, 2);
    expect(result.summary.nll_per_token).toBeCloseTo(total / tokens, 3);
    result.samples.forEach((s, k) => expect(s.nll as number).toBeCloseTo(sums[k]!.nll, 2));
  });

  it('ppl of text_only data: the texts joined by a blank line, one sliding window pass', async () => {
    const texts = [STORY, 'Tom had a dog. The dog liked to run and jump.'];
    const result = await evaluateModel(dataset('text_only', texts.map((text) => ({ text }))), { metric: 'ppl', evaluateBlockSize: 1024 }, { model, tokenizer });
    const ids = tokenizer.encode(texts.join('\n\n'));
    expect(result.summary.tokens).toBe(ids.length - 1);
    expect(result.summary.perplexity).toBeCloseTo(Math.exp(-logLikelihood(ids, 1) / (ids.length - 1)), 3);
    expect(result.notes).toEqual(['the stride (--evaluate_block_size 1024) is longer than a window (512 tokens); it was set to 512 so that no token goes unscored']);
  });

  it('accuracy: greedy answers, read by answer type; unreadable answers are wrong and listed; results.json holds every sample', async () => {
    const generator = createGenerator(model, tokenizer);
    const prompts = ['Once upon a time, there was a little girl named', 'Tom and Sam went to the'];
    const greedy = await Promise.all(prompts.map((p) => generator.generate(tokenizer.encode(p, { addSpecialTokens: false }), { maxNewTokens: 12, doSample: false })));
    // The gold of the first is the model's own greedy answer, of the second something else.
    const instances = [
      { input: prompts[0]!, output: greedy[0]!.text },
      { input: prompts[1]!, output: 'a spaceship on the moon' },
    ];
    const result = await evaluateModel(dataset('text2text', instances), { metric: 'accuracy', maxNewTokens: 12, batchSize: 2 }, { model, tokenizer, generator });
    expect(result.summary).toEqual({ accuracy: 0.5, correct: 1, total: 2, unparseable: 0, truncated: 0 });
    expect(result.samples.map((s) => s.prediction)).toEqual(greedy.map((g) => g.text));
    expect(result.samples[0]).toMatchObject({ index: 0, extracted: greedy[0]!.text.toLowerCase().replace(/[^\p{L}\p{N}\s]/gu, ' ').replace(/\b(a|an|the)\b/g, ' ').replace(/\s+/g, ' ').trim(), correct: true });

    const numbers = await evaluateModel(dataset('text2text', instances.map((i) => ({ ...i, output: '#### 7' }))), { metric: 'accuracy', answerType: 'gsm8k', maxNewTokens: 12 }, { model, tokenizer });
    expect(numbers.summary).toMatchObject({ accuracy: 0, unparseable: 2 });
    expect(numbers.unparseable).toEqual([0, 1]);

    const dir = mkdtempSync(path.join(tmpdir(), 'lmflow-eval-'));
    const file = await writeResults(dir, { model: stories260K, dataset: '/data/eval.json', options: { metric: 'gsm8k' } }, numbers);
    const written = JSON.parse(await readFile(file, 'utf8'));
    expect(written).toMatchObject({ metric: 'accuracy', model: stories260K, summary: numbers.summary, unparseable: [0, 1] });
    expect(written.samples[1]).toEqual({ ...numbers.samples[1], extracted: null });
    expect(Object.keys(written.samples[0])).toEqual(['index', 'file', 'file_index', 'prompt', 'prediction', 'extracted', 'gold', 'gold_answer', 'correct', 'finish_reason']);
    expect(formatSummary(numbers, { model: 'm', dataset: 'd' })).toBe(
      ['metric               accuracy', 'model                m', 'dataset              d', 'accuracy             0.0000 (0.00%)', 'correct              0', 'total                2', 'unparseable          2', 'truncated            0', 'unparseable samples  0, 1'].join('\n'),
    );
  });
});
