import { beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, IGNORE_INDEX, type Dataset, type DatasetInstance, type Plugin } from '@lmflow/core';
import { loadTokenizer, type Tokenizer } from '../tokenizer/load-tokenizer.js';
import { loadDataset } from '../dataset/load-dataset.js';
import { convertDataset } from '../convert/convert-dataset.js';
import { tokenizeDataset, tokenizePairedDataset, tokenizeScoredDataset } from './tokenize-dataset.js';
import { gpt2Dir, llama2Dir, shared } from '../test-fixtures.js';

let tok: Tokenizer;
let gpt2: Tokenizer;
beforeAll(async () => {
  [tok, gpt2] = await Promise.all([loadTokenizer(llama2Dir), loadTokenizer(gpt2Dir)]);
});

const enc = (text: string) => tok.encode(text, { addSpecialTokens: false });
function dataset<T extends Dataset['type']>(type: T, instances: unknown[]): Dataset {
  return { type, instances: instances as DatasetInstance[], origins: instances.map((_, index) => ({ file: 'mem.json', index })) };
}
const quiet = { onWarning: () => undefined };

describe('tokenizeDataset', () => {
  it('text_only: BOS per the tokenizer, no EOS, every token learned', async () => {
    const [sample] = await tokenizeDataset(dataset('text_only', [{ text: 'Once upon a time' }]), tok);
    expect(sample!.inputIds).toEqual([1, ...enc('Once upon a time')]);
    expect(sample!.labels).toEqual(sample!.inputIds);
    // GPT-2 adds no BOS.
    const [g] = await tokenizeDataset(dataset('text_only', [{ text: 'Hello world' }]), gpt2);
    expect(g!.inputIds).toEqual([15496, 995]);
  });

  it('text2text: input and output encoded apart, input masked, EOS appended unless addEos is false', async () => {
    const data = dataset('text2text', [{ input: 'Q: 2+2?', output: ' A: 4' }]);
    const [sample] = await tokenizeDataset(data, tok);
    expect(sample!.inputIds).toEqual([...enc('Q: 2+2?'), ...enc(' A: 4'), 2]);
    expect(sample!.labels).toEqual([...enc('Q: 2+2?').map(() => IGNORE_INDEX), ...enc(' A: 4'), 2]);
    const [plain] = await tokenizeDataset(data, tok, { addEos: false });
    expect(plain!.inputIds).toEqual([...enc('Q: 2+2?'), ...enc(' A: 4')]);
    const [prompt] = await tokenizeDataset(data, tok, { trainOnPrompt: true });
    expect(prompt!.labels).toEqual(prompt!.inputIds);
  });

  it('conversation: the template (default: empty for a tokenizer without chat template), notes on dropped turns', async () => {
    const warnings: string[] = [];
    const data = dataset('conversation', [
      { messages: [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Yo' }, { role: 'user', content: 'Bye' }] },
      { messages: [{ role: 'user', content: 'Anyone?' }] },
      { messages: [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Yo' }] },
    ]);
    const samples = await tokenizeDataset(data, tok, { onWarning: (m) => warnings.push(m) });
    expect(samples).toHaveLength(2);
    expect(samples[0]!.inputIds).toEqual([1, ...enc('Hi'), ...enc('Yo'), 2]);
    expect(samples[0]!.labels).toEqual([IGNORE_INDEX, ...enc('Hi').map(() => IGNORE_INDEX), ...enc('Yo'), 2]);
    expect(warnings).toEqual([
      'a final user message without an assistant reply was left out (nothing to learn from it; LMFlow does the same): 2 instances, the first is mem.json instance 0',
      'conversations without an assistant reply were skipped (nothing to learn from them): 1 instance, the first is mem.json instance 1',
    ]);
  });

  it('skips, with a warning, conversations that do not start with the user or do not alternate (as LMFlow)', async () => {
    const warnings: string[] = [];
    const data = dataset('conversation', [
      { messages: [{ role: 'assistant', content: 'Hello' }, { role: 'user', content: 'Hi' }] },
      { messages: [{ role: 'user', content: 'Hi' }, { role: 'user', content: 'Again' }] },
      { messages: [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Yo' }] },
    ]);
    const samples = await tokenizeDataset(data, tok, { onWarning: (m) => warnings.push(m) });
    expect(samples).toHaveLength(1);
    expect(warnings).toEqual([
      'conversations that do not start with a user message were skipped (as LMFlow does): 1 instance, the first is mem.json instance 0',
      'conversations whose messages do not alternate user, assistant were skipped: 1 instance, the first is mem.json instance 1',
    ]);
  });

  it('names the file and instance when a template cannot encode an instance', async () => {
    const data: Dataset = { type: 'conversation', instances: [{ messages: [{ role: 'user', content: 'q' }, { role: 'assistant', content: 'a' }] }, { system: 'Be nice.', messages: [{ role: 'user', content: 'q' }, { role: 'assistant', content: 'a' }] }], origins: [{ file: 'data/train.json', index: 0 }, { file: 'data/train.json', index: 1 }] };
    await expect(tokenizeDataset(data, tok, { conversationTemplate: 'empty' })).rejects.toThrow(
      'dataset data/train.json: instance 1: "system" is given, but conversation template "empty" has no system role',
    );
  });

  it('truncates to block_size keeping the start', async () => {
    const [sample] = await tokenizeDataset(dataset('text_only', [{ text: 'one two three four five six seven' }]), tok, { blockSize: 4 });
    expect(sample!.inputIds).toEqual([1, ...enc('one two three four five six seven')].slice(0, 4));
    await expect(tokenizeDataset(dataset('text_only', [{ text: 'x' }]), tok, { blockSize: 0 })).rejects.toThrow('--block_size is 0, expected a positive integer');
  });

  it('applies filterSamples, transformSample and tokenizeSample, in that order', async () => {
    const calls: string[] = [];
    const plugin: Plugin = {
      name: 'shout',
      apply(runtime) {
        runtime.data.hooks.filterSamples.tapPromise('shout', async (instances) => {
          calls.push('filter');
          return instances.filter((i) => (i as { text: string }).text !== 'drop me');
        });
        runtime.data.hooks.transformSample.tap('shout', (instance, context) => {
          calls.push(`transform ${context.origin.index}`);
          return { text: (instance as { text: string }).text.toUpperCase() };
        });
        runtime.data.hooks.tokenizeSample.tap('shout', (sample) => {
          calls.push('tokenize');
          return { ...sample, labels: sample.labels.map((l, t) => (t === 0 ? IGNORE_INDEX : l)) };
        });
      },
    };
    const samples = await tokenizeDataset(dataset('text_only', [{ text: 'drop me' }, { text: 'keep me' }]), tok, { runtime: createRuntime({ plugins: [plugin] }) });
    expect(calls).toEqual(['filter', 'transform 1', 'tokenize']);
    expect(samples).toHaveLength(1);
    expect(samples[0]!.inputIds).toEqual([1, ...enc('KEEP ME')]);
    expect(samples[0]!.labels[0]).toBe(IGNORE_INDEX);
  });

  it('holds what transformSample returns to the rules of the dataset type', async () => {
    const plugin: Plugin = { name: 'broken', apply: (runtime) => void runtime.data.hooks.transformSample.tap('broken', () => ({ txt: 'x' }) as never) };
    await expect(tokenizeDataset(dataset('text_only', [{ text: 'a' }]), tok, { runtime: createRuntime({ plugins: [plugin] }) })).rejects.toThrow(
      'dataset mem.json: instance 0: after data.hooks.transformSample: "text" is missing; a text_only instance has "text"',
    );
  });

  it('image_text: the text as text_only, with a note that images need a plugin', async () => {
    const warnings: string[] = [];
    const [sample] = await tokenizeDataset(dataset('image_text', [{ images: ['cat.png'], text: 'A cat.' }]), tok, { onWarning: (m) => warnings.push(m) });
    expect(sample!.inputIds).toEqual([1, ...enc('A cat.')]);
    expect(warnings[0]).toMatch(/^image_text: only the text is trained on/);
  });

  it('paired_conversation: both sides of each pair of the converted dpo demo file', async () => {
    const converted = await convertDataset(shared('data/dpo_en_demo.json'), { from: 'sharegpt', to: 'paired_conversation' });
    // The first 40 pairs: the Llama-2 tokenizer (pure JS, no pre-tokenizer) is slow on long texts.
    const data = { ...converted, instances: converted.instances.slice(0, 40), origins: converted.origins.slice(0, 40) };
    const pairs = await tokenizePairedDataset(data, tok, { conversationTemplate: 'llama2', ...quiet });
    expect(pairs).toHaveLength(40);
    const first = pairs[0]!;
    const prompt = (data.instances[0] as { chosen: { messages: { content: string }[] } }).chosen.messages[0]!.content;
    const promptIds = [1, ...enc(`[INST] ${prompt} [/INST]`)];
    expect(first.chosen.inputIds.slice(0, promptIds.length)).toEqual(promptIds);
    expect(first.rejected.inputIds.slice(0, promptIds.length)).toEqual(promptIds);
    expect(first.chosen.labels.slice(0, promptIds.length).every((l) => l === IGNORE_INDEX)).toBe(true);
    expect(first.chosen.inputIds.at(-1)).toBe(2);
    expect(first.origin).toEqual({ file: shared('data/dpo_en_demo.json'), index: 0 });
    await expect(tokenizeDataset(data, tok)).rejects.toThrow('is paired_conversation, which trains with tokenizePairedDataset (DPO, reward models), not as single samples');
  });

  it('text_to_scored_textlist: each candidate as text2text with its score', async () => {
    const [scored] = await tokenizeScoredDataset(dataset('text_to_scored_textlist', [{ input: 'Name?', output: [{ text: ' Amy', score: 1.5 }, { text: ' Bob', score: -1 }] }]), tok);
    expect(scored!.candidates.map((c) => c.score)).toEqual([1.5, -1]);
    expect(scored!.candidates[1]!.sample.inputIds).toEqual([...enc('Name?'), ...enc(' Bob'), 2]);
    expect(scored!.candidates[1]!.sample.labels).toEqual([...enc('Name?').map(() => IGNORE_INDEX), ...enc(' Bob'), 2]);
  });

  it('tokenizes the converted alpaca demo file (999 samples, each ending in EOS, input masked; GPT-2)', async () => {
    const data = await convertDataset(shared('data/alpaca_en_demo.json'), { from: 'alpaca', to: 'text2text' });
    const samples = await tokenizeDataset(data, gpt2, { blockSize: 512 });
    expect(samples).toHaveLength(999);
    const first = samples[0]!;
    const input = gpt2.encode('Describe a process of making crepes.', { addSpecialTokens: false });
    expect(first.inputIds.slice(0, input.length)).toEqual(input);
    expect(first.labels.slice(0, input.length).every((l) => l === IGNORE_INDEX)).toBe(true);
    expect(samples.every((s) => s.inputIds.length <= 512)).toBe(true);
    const untruncated = samples.filter((s) => s.inputIds.length < 512);
    expect(untruncated).toHaveLength(982); // the other 17 reach block_size and lose their end
    expect(untruncated.every((s) => s.inputIds.at(-1) === 50256 && s.labels.at(-1) === 50256)).toBe(true);
  });

  it('loads and tokenizes wikitext (text_only; GPT-2)', async () => {
    const data = await loadDataset(shared('data/wikitext-2-raw-v1-test.json'));
    const samples = await tokenizeDataset(data, gpt2);
    expect(samples).toHaveLength(4358);
    // Empty lines have no tokens at all with GPT-2 (no BOS); the Llama-2 tokenizer gives a lone BOS.
    expect(samples[0]!.inputIds).toEqual([]);
    expect(samples[1]!.inputIds).toEqual(gpt2.encode(' = Robert Boulter = \n'));
    expect((await tokenizeDataset({ ...data, instances: data.instances.slice(0, 1), origins: data.origins.slice(0, 1) }, tok))[0]!.inputIds).toEqual([1]);
  });
});
