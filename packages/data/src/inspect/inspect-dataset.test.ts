import { beforeAll, describe, expect, it } from 'vitest';
import { IGNORE_INDEX, type Dataset } from '@lmflow/core';
import { loadTokenizer, type Tokenizer } from '../tokenizer/load-tokenizer.js';
import { formatInspection, inspectDataset, tokenTexts } from './inspect-dataset.js';
import { gpt2Dir, llama2Dir } from '../test-fixtures.js';

let llama: Tokenizer;
let gpt2: Tokenizer;
beforeAll(async () => {
  [llama, gpt2] = await Promise.all([loadTokenizer(llama2Dir), loadTokenizer(gpt2Dir)]);
});

const worked: Dataset = {
  type: 'conversation',
  instances: [{ system: 'sysinfo', messages: [{ role: 'user', content: 'Hello' }, { role: 'assistant', content: 'Hi!' }] }],
  origins: [{ file: 'data/chat.json', index: 0 }],
};

describe('inspectDataset / formatInspection', () => {
  it('shows the spec\'s worked example with the trained span marked', () => {
    const samples = inspectDataset(worked, llama, { conversationTemplate: 'llama2' });
    expect(samples).toHaveLength(1);
    expect(samples[0]!.inputIds.slice(-3)).toEqual([6324, 29991, 2]);
    expect(samples[0]!.labels.filter((l) => l !== IGNORE_INDEX)).toEqual([6324, 29991, 2]);
    expect(formatInspection(samples)).toBe(
      'trained tokens inside ⟦ ⟧ (label = token); the rest have label -100; tokens separated by |\n\n' +
        'sample 0 (data/chat.json instance 0): 27 tokens, 3 trained\n' +
        '<s>| [|INST|]| <<|SY|S|>>|\\n|sys|info|\\n|<|</|SY|S|>>|\\n|\\n|Hello| [|/|INST|]|⟦ Hi|!|</s>⟧\n',
    );
    const colored = formatInspection(samples, { color: true });
    expect(colored).toContain('\x1b[32;1m Hi\x1b[0m');
    expect(colored).toContain('\x1b[2m<s>\x1b[0m');
  });

  it('names each side of a pair and each scored candidate', () => {
    const pair: Dataset = {
      type: 'paired_conversation',
      instances: [{ chosen: worked.instances[0] as never, rejected: { messages: [{ role: 'user', content: 'Hello' }, { role: 'assistant', content: 'Go away.' }] } }],
      origins: [{ file: 'p.json', index: 0 }],
    };
    const samples = inspectDataset(pair, llama, { conversationTemplate: 'llama2' });
    expect(samples.map((s) => s.part)).toEqual(['chosen', 'rejected']);
    const scored: Dataset = { type: 'text_to_scored_textlist', instances: [{ input: 'Q', output: [{ text: 'A', score: 0.5 }] }], origins: [{ file: 's.json', index: 3 }] };
    const [candidate] = inspectDataset(scored, gpt2);
    expect(formatInspection([candidate!]).split('\n')[2]).toBe('sample 0 (s.json instance 3 candidate 0 (score 0.5)): 3 tokens, 2 trained');
  });

  it('applies block_size and a limit', () => {
    const data: Dataset = { type: 'text_only', instances: [{ text: 'a b c d e f' }, { text: 'x' }], origins: [{ file: 't.json', index: 0 }, { file: 't.json', index: 1 }] };
    const samples = inspectDataset(data, llama, { blockSize: 3, limit: 1 });
    expect(samples).toHaveLength(1);
    expect(samples[0]!.tokens).toEqual(['<s>', ' a', ' b']);
  });

  it('shows byte-level tokens readably, a character split across tokens as its bytes', () => {
    expect(tokenTexts(gpt2, gpt2.encode('Hello world\n'))).toEqual(['Hello', ' world', '\n']);
    // "🙂" is four bytes that GPT-2 splits over two tokens; "日" is three, split after a space.
    expect(tokenTexts(gpt2, gpt2.encode('🙂'))).toEqual(['<0xF0><0x9F>', '<0x99><0x82>']);
    expect(tokenTexts(gpt2, gpt2.encode(' café 日本'))).toEqual([' café', ' <0xE6>', '<0x97>', '<0xA5>', '<0xE6><0x9C>', '<0xAC>']);
  });
});
