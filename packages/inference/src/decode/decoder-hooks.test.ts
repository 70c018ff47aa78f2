/**
 * The decoder hooks as plugins meet them, with stories260K: processLogits taps change what is
 * chosen, proposeTokens taps are verified greedily (the right proposals give the same text with
 * fewer forward passes, wrong ones the same text), and beforeGenerate / afterGenerate see the
 * prompt and the output.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, type GenerateContext, type LogitsContext, type Plugin } from '@lmflow/core';
import { add, tensor } from '@lmflow/tensor';
import { loadModel, loadTokenizer, type CausalLM, type Tokenizer } from '@lmflow/models';
import { createGenerator } from '../index.js';
import { STORIES_GOLDEN_IDS, stories260K } from '../test-support/paths.js';

let model: CausalLM;
let tokenizer: Tokenizer;

beforeAll(async () => {
  [model, tokenizer] = await Promise.all([loadModel(stories260K, { device: 'cpu' }), loadTokenizer(stories260K)]);
});
afterAll(() => model.dispose());

/** The model with its forward passes counted. */
function counted(): { model: CausalLM; forwards: () => number } {
  let n = 0;
  return {
    model: {
      ...model,
      forward: (...args: Parameters<CausalLM['forward']>) => {
        n++;
        return model.forward(...args);
      },
    },
    forwards: () => n,
  };
}

/** A plugin proposing, per row, the next `k` tokens of a known output (or wrong ones). */
function proposer(outputs: number[][], k: number, wrong = false): Plugin {
  return {
    name: 'test-proposer',
    apply(runtime) {
      runtime.decoder.hooks.proposeTokens.tap('test-proposer', (context) =>
        context.generated.map((generated, row) => outputs[row]!.slice(generated.length, generated.length + k).map((id) => (wrong ? (id + 1) % 512 : id))),
      );
    },
  };
}

describe('decoder hooks', () => {
  it('processLogits taps rewrite the logits (here: a banned token), with step and generated in the context', async () => {
    const little = tokenizer.tokenToId('▁little')!;
    const steps: number[] = [];
    const runtime = createRuntime({
      plugins: [
        {
          name: 'ban-little',
          apply(rt) {
            rt.decoder.hooks.processLogits.tap('ban-little', (logits, context: LogitsContext) => {
              steps.push(context.step);
              expect(context.generated[0]).toHaveLength(context.step);
              const mask = new Float32Array(logits.shape[1]!);
              mask[little] = -Infinity;
              return add(logits, tensor(mask, { shape: [1, mask.length] }));
            });
          },
        },
      ],
    });
    const plain = await createGenerator(model, tokenizer).generate('', { maxNewTokens: 20 });
    expect(plain.tokenIds).toContain(little);
    const banned = await createGenerator(model, tokenizer, { runtime }).generate('', { maxNewTokens: 20 });
    expect(banned.tokenIds).not.toContain(little);
    const at = plain.tokenIds.indexOf(little);
    expect(banned.tokenIds.slice(0, at)).toEqual(plain.tokenIds.slice(0, at));
    expect(steps).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });

  it('beforeGenerate and afterGenerate see the prompts, the options and the outputs', async () => {
    const seen: string[] = [];
    const runtime = createRuntime({
      plugins: [
        {
          name: 'observer',
          apply(rt) {
            rt.decoder.hooks.beforeGenerate.tap('observer', (context: GenerateContext) => {
              seen.push(`before ${JSON.stringify(context.promptIds)} max ${context.options.maxNewTokens}`);
            });
            rt.decoder.hooks.afterGenerate.tap('observer', (context) => {
              seen.push(`after ${context.outputIds.map((ids) => ids.length).join(',')}`);
            });
          },
        },
      ],
    });
    const generator = createGenerator(model, tokenizer, { runtime });
    const results = await generator.generateBatch(['Tom', ''], { maxNewTokens: 3 });
    expect(seen).toEqual([`before ${JSON.stringify([tokenizer.encode('Tom'), [1]])} max 3`, 'after 3,3']);
    expect(results.map((r) => r.tokenIds.length)).toEqual([3, 3]);
  });

  it('a tap that throws is named in the error', async () => {
    const runtime = createRuntime({
      plugins: [{ name: 'broken', apply: (rt) => rt.decoder.hooks.processLogits.tap('broken', () => { throw new Error('no logits today'); }) }],
    });
    await expect(createGenerator(model, tokenizer, { runtime }).generate('', { maxNewTokens: 2 })).rejects.toThrow(
      'plugin "broken" failed in decoder.hooks.processLogits: no logits today',
    );
  });
});

describe('proposeTokens (speculative decoding, greedy verification)', () => {
  it('right proposals give the same tokens with fewer forward passes; wrong ones the same tokens', async () => {
    const baseline = counted();
    const reference = await createGenerator(baseline.model, tokenizer).generate('', { maxNewTokens: 40 });
    expect(reference.tokenIds.slice(0, 19)).toEqual(STORIES_GOLDEN_IDS.slice(1));
    expect(baseline.forwards()).toBe(40); // the prompt, then one per further token

    const right = counted();
    const fast = await createGenerator(right.model, tokenizer, { runtime: createRuntime({ plugins: [proposer([reference.tokenIds], 4)] }) }).generate('', { maxNewTokens: 40 });
    expect(fast).toEqual(reference);
    // The prompt, then each forward verifies 4 proposals and adds the model's next token: 5 per pass.
    expect(right.forwards()).toBe(1 + Math.ceil(39 / 5));

    const wrong = counted();
    const slow = await createGenerator(wrong.model, tokenizer, { runtime: createRuntime({ plugins: [proposer([reference.tokenIds], 3, true)] }) }).generate('', { maxNewTokens: 40 });
    expect(slow).toEqual(reference);
    expect(wrong.forwards()).toBe(40);
  });

  it('verifies a batch of rows of different lengths; stop strings and EOS still end rows', async () => {
    const prompts = ['Once upon a time,', 'Tom'];
    const plain = createGenerator(model, tokenizer);
    const reference = await plain.generateBatch(prompts, { maxNewTokens: 30 });
    const spec = counted();
    const generator = createGenerator(spec.model, tokenizer, { runtime: createRuntime({ plugins: [proposer(reference.map((r) => r.tokenIds), 6)] }) });
    expect(await generator.generateBatch(prompts, { maxNewTokens: 30 })).toEqual(reference);
    expect(spec.forwards()).toBeLessThan(10);
    const stopped = await generator.generate('', { maxNewTokens: 30, stop: ['girl'] });
    expect(stopped).toEqual(await plain.generate('', { maxNewTokens: 30, stop: ['girl'] }));
  });

  it('proposals while sampling, or of the wrong shape, are refused with a message for the plugin author', async () => {
    const runtime = createRuntime({ plugins: [proposer([STORIES_GOLDEN_IDS.slice(1)], 2)] });
    const generator = createGenerator(model, tokenizer, { runtime });
    await expect(generator.generate('', { maxNewTokens: 5, temperature: 0.7, seed: 1 })).rejects.toThrow(/proposed tokens while sampling \(doSample is true\)/);
    const bad = createRuntime({ plugins: [{ name: 'bad', apply: (rt) => rt.decoder.hooks.proposeTokens.tap('bad', () => [[1], [2]]) }] });
    await expect(createGenerator(model, tokenizer, { runtime: bad }).generate('', { maxNewTokens: 5 })).rejects.toThrow(
      'decoder.hooks.proposeTokens returned [[1],[2]]; expected one list of token ids per row (1 rows), or undefined',
    );
  });
});
