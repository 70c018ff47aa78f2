import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ConversationInstance, PairedConversationInstance, Text2TextInstance } from '@lmflow/core';
import { convertDataset, type ConvertOptions } from './convert-dataset.js';
import { loadDataset } from '../dataset/load-dataset.js';
import { writeDataset } from '../dataset/write-dataset.js';
import { DatasetError } from '../dataset/dataset-error.js';
import { shared, tempFolder } from '../test-fixtures.js';

const alpacaFile = shared('data/alpaca_en_demo.json');
const dpoFile = shared('data/dpo_en_demo.json');
const alpaca = JSON.parse(readFileSync(alpacaFile, 'utf8')) as { instruction: string; input: string; output: string }[];
const dpo = JSON.parse(readFileSync(dpoFile, 'utf8')) as { conversations: { from: string; value: string }[]; chosen: { value: string }; rejected: { value: string } }[];

async function errorOf(content: unknown, options: ConvertOptions, name = 'in.json'): Promise<string> {
  const dir = tempFolder({ [name]: content });
  const error = await convertDataset(join(dir, name), options).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(DatasetError);
  return (error as Error).message.replaceAll(dir, 'DIR');
}

describe('convertDataset from alpaca (../shared/data/alpaca_en_demo.json)', () => {
  it('to text2text: 999 instances; input is the instruction, plus "\\n" and the input when there is one', async () => {
    const dataset = await convertDataset(alpacaFile, { from: 'alpaca', to: 'text2text' });
    expect(dataset.type).toBe('text2text');
    expect(dataset.instances).toHaveLength(999);
    const instances = dataset.instances as Text2TextInstance[];
    expect(instances[0]).toEqual({ input: 'Describe a process of making crepes.', output: alpaca[0]!.output });
    const withInput = alpaca.findIndex((r) => r.input !== '');
    expect(instances[withInput]).toEqual({ input: `${alpaca[withInput]!.instruction}\n${alpaca[withInput]!.input}`, output: alpaca[withInput]!.output });
    const joined = instances.filter((i, k) => alpaca[k]!.input !== '' && i.input === `${alpaca[k]!.instruction}\n${alpaca[k]!.input}`);
    const alone = instances.filter((i, k) => alpaca[k]!.input === '' && i.input === alpaca[k]!.instruction);
    expect([joined.length, alone.length]).toEqual([412, 587]);
    expect(dataset.origins[998]).toEqual({ file: alpacaFile, index: 998 });
  });

  it('to conversation: one user turn and one assistant turn each; writes and loads back', async () => {
    const dataset = await convertDataset(alpacaFile, { from: 'alpaca', to: 'conversation' });
    expect(dataset.instances).toHaveLength(999);
    expect(dataset.instances[0]).toEqual({ messages: [{ role: 'user', content: alpaca[0]!.instruction }, { role: 'assistant', content: alpaca[0]!.output }] });
    const out = join(tempFolder(), 'alpaca.json');
    await writeDataset(dataset, out);
    expect((await loadDataset(out)).instances).toEqual(dataset.instances);
  });

  it('keeps system and history in conversations, and refuses to lose them in text2text', async () => {
    const record = { instruction: 'Now?', input: '', output: 'Yes.', system: 'Be brief.', history: [['Ready?', 'Almost.']] };
    const dir = tempFolder({ 'in.json': [record] });
    const dataset = await convertDataset(join(dir, 'in.json'), { from: 'alpaca', to: 'conversation' });
    expect(dataset.instances[0]).toEqual({
      system: 'Be brief.',
      messages: [
        { role: 'user', content: 'Ready?' },
        { role: 'assistant', content: 'Almost.' },
        { role: 'user', content: 'Now?' },
        { role: 'assistant', content: 'Yes.' },
      ],
    });
    expect(await errorOf([record], { from: 'alpaca', to: 'text2text' })).toBe('dataset DIR/in.json: record 0: has a "system" prompt, which text2text cannot hold; convert it --to conversation');
  });

  it('converts alpaca preference records (chosen/rejected) to paired_conversation, and only those', async () => {
    const dir = tempFolder({ 'in.json': [{ instruction: 'Pick', input: 'a or b', chosen: 'a', rejected: 'b' }] });
    const dataset = await convertDataset(join(dir, 'in.json'), { from: 'alpaca', to: 'paired_conversation' });
    expect(dataset.instances[0]).toEqual({
      chosen: { messages: [{ role: 'user', content: 'Pick\na or b' }, { role: 'assistant', content: 'a' }] },
      rejected: { messages: [{ role: 'user', content: 'Pick\na or b' }, { role: 'assistant', content: 'b' }] },
    });
    const error = await convertDataset(alpacaFile, { from: 'alpaca', to: 'paired_conversation' }).catch((e: Error) => e.message);
    expect(error).toBe(`dataset ${alpacaFile}: record 0: has no "chosen"/"rejected" answers; paired_conversation needs a preferred and a rejected answer (alpaca preference records have "chosen" and "rejected" instead of "output")`);
  });

  it('names the record and field of bad alpaca records', async () => {
    const good = { instruction: 'i', input: '', output: 'o' };
    const cases: [unknown, string][] = [
      [[good, { instruction: 'i', output: 3 }], 'record 1: "output" is 3 (a number), expected a string'],
      [[good, { instruction: '', input: '', output: 'o' }], 'record 1: "instruction" and "input" are both empty; there is no prompt'],
      [[good, { instruction: 'i', output: 'o', response: 'r' }], 'record 1: unknown field "response"; a alpaca record has "instruction", "input", "output", "system", "history", "chosen", "rejected"'],
      [[good, { instruction: 'i', output: 'o', history: [['q']] }], 'record 1: "history[0]" is ["q"] (an array), expected a pair of strings [instruction, response]'],
      [[good, 'text'], 'record 1: is "text", expected a alpaca record (a JSON object)'],
      [{ type: 'text2text', instances: [] }, 'is already an LMFlow dataset {"type": ..., "instances": [...]}, expected a alpaca list to convert'],
      [[], 'has no alpaca records to convert'],
    ];
    for (const [content, message] of cases) {
      expect(await errorOf(content, { from: 'alpaca', to: 'text2text' })).toBe(`dataset DIR/in.json: ${message}`);
    }
  });
});

describe('convertDataset from sharegpt (../shared/data/dpo_en_demo.json)', () => {
  it('to paired_conversation: 300 pairs sharing the prompt, system turns moved to "system"', async () => {
    const dataset = await convertDataset(dpoFile, { from: 'sharegpt', to: 'paired_conversation' });
    expect(dataset.type).toBe('paired_conversation');
    expect(dataset.instances).toHaveLength(300);
    const pairs = dataset.instances as PairedConversationInstance[];
    expect(pairs[0]).toEqual({
      chosen: { messages: [{ role: 'user', content: dpo[0]!.conversations[0]!.value }, { role: 'assistant', content: dpo[0]!.chosen.value }] },
      rejected: { messages: [{ role: 'user', content: dpo[0]!.conversations[0]!.value }, { role: 'assistant', content: dpo[0]!.rejected.value }] },
    });
    const withSystem = dpo.findIndex((r) => r.conversations[0]!.from === 'system');
    expect(pairs[withSystem]!.chosen.system).toBe(dpo[withSystem]!.conversations[0]!.value);
    expect(pairs[withSystem]!.chosen.messages[0]).toEqual({ role: 'user', content: dpo[withSystem]!.conversations[1]!.value });
    expect(pairs.filter((p) => p.chosen.system !== undefined)).toHaveLength(80);
    // Turn counts: prompt turns (less a system turn) plus the answer.
    const turns = pairs.map((p) => p.chosen.messages.length).reduce((a, b) => a + b, 0);
    expect(turns).toBe(dpo.map((r) => r.conversations.filter((t) => t.from !== 'system').length + 1).reduce((a, b) => a + b, 0));
    expect(pairs.every((p) => p.rejected.messages.length === p.chosen.messages.length)).toBe(true);
    const out = join(tempFolder(), 'dpo.json');
    await writeDataset(dataset, out);
    expect((await loadDataset(out)).instances).toEqual(dataset.instances);
  });

  it('refuses preference records --to conversation, and multi-turn chats --to text2text', async () => {
    const error = await convertDataset(dpoFile, { from: 'sharegpt', to: 'conversation' }).catch((e: Error) => e.message);
    expect(error).toBe(`dataset ${dpoFile}: record 0: has "chosen"/"rejected" (a preference record); convert it --to paired_conversation, not --to conversation`);
    const chat = [{ conversations: [{ from: 'human', value: 'q' }, { from: 'gpt', value: 'a' }, { from: 'human', value: 'q2' }, { from: 'gpt', value: 'a2' }] }];
    expect(await errorOf(chat, { from: 'sharegpt', to: 'text2text' })).toBe(
      'dataset DIR/in.json: record 0: has 4 turns; text2text holds one input and one output (a human turn and a gpt turn); convert it --to conversation',
    );
  });

  it('converts chats to conversation and single exchanges to text2text; JSON Lines too', async () => {
    const records = [{ conversations: [{ from: 'system', value: 's' }, { from: 'human', value: 'q' }, { from: 'gpt', value: 'a' }], tools: '[{"name": "f"}]' }];
    const dir = tempFolder({ 'chat.jsonl': records.map((r) => JSON.stringify(r)).join('\n') + '\n' });
    const dataset = await convertDataset(join(dir, 'chat.jsonl'), { from: 'sharegpt', to: 'conversation' });
    expect(dataset.instances[0] as ConversationInstance).toEqual({ system: 's', tools: ['[{"name": "f"}]'], messages: [{ role: 'user', content: 'q' }, { role: 'assistant', content: 'a' }] });
    const single = tempFolder({ 'in.json': [{ conversations: [{ from: 'human', value: 'q' }, { from: 'gpt', value: 'a' }] }] });
    expect((await convertDataset(join(single, 'in.json'), { from: 'sharegpt', to: 'text2text' })).instances).toEqual([{ input: 'q', output: 'a' }]);
  });

  it('names the record and field of bad sharegpt records', async () => {
    const cases: [unknown, string][] = [
      [[{ conversations: [{ from: 'human', value: 'q' }, { from: 'bot', value: 'a' }] }], 'record 0: "conversations[1].from" is "bot", expected "human", "gpt" or (first only) "system"'],
      [[{ conversations: [{ from: 'human', value: 'q' }, { from: 'human', value: 'a' }] }], 'record 0: "conversations[1].from" is "human", expected "gpt" (turns alternate human, gpt, starting with human)'],
      [[{ conversations: [{ from: 'human', value: 'q' }, { from: 'system', value: 's' }] }], 'record 0: "conversations[1].from" is "system", expected "human" or "gpt" (a system turn may only come first)'],
      [[{ conversations: [] }], 'record 0: "conversations" is [] (an array), expected a non-empty array of {"from", "value"} turns'],
      [[{ conversations: [{ from: 'human', text: 'q' }] }], 'record 0: unknown field "conversations[0].text"; a turn has "from" and "value"'],
      [[{ conversations: [{ from: 'human', value: 'q' }], chosen: { from: 'gpt', value: 'a' }, rejected: { from: 'human', value: 'b' } }], 'record 0: "rejected.from" is "human", expected "gpt"'],
    ];
    for (const [content, message] of cases) {
      expect(await errorOf(content, { from: 'sharegpt', to: 'paired_conversation' })).toBe(`dataset DIR/in.json: ${message}`);
    }
    const ends = [{ conversations: [{ from: 'human', value: 'q' }, { from: 'gpt', value: 'a' }], chosen: { from: 'gpt', value: 'x' }, rejected: { from: 'gpt', value: 'y' } }];
    expect(await errorOf(ends, { from: 'sharegpt', to: 'paired_conversation' })).toBe(
      'dataset DIR/in.json: record 0: "conversations" ends with a gpt turn; the prompt of a preference pair ends with the human turn the answers reply to',
    );
  });
});

describe('convertDataset from jsonl-text', () => {
  it('reads one {"text"} object per non-blank line into text_only', async () => {
    const dir = tempFolder({ 'in.jsonl': '{"text": "first"}\n\n{"text": "second\\nline"}\n' });
    const dataset = await convertDataset(join(dir, 'in.jsonl'), { from: 'jsonl-text', to: 'text_only' });
    expect(dataset.type).toBe('text_only');
    expect(dataset.instances).toEqual([{ text: 'first' }, { text: 'second\nline' }]);
  });

  it('names the line of a bad record, and refuses targets raw text cannot fill', async () => {
    expect(await errorOf('{"text": "a"}\n\n{"txt": "b"}\n', { from: 'jsonl-text', to: 'text_only' }, 'in.jsonl')).toBe(
      'dataset DIR/in.jsonl: record 1 (line 3): unknown field "txt"; a jsonl-text record has "text"',
    );
    expect(await errorOf('{"text": "a"}\nplain words\n', { from: 'jsonl-text', to: 'text_only' }, 'in.jsonl')).toMatch(/^dataset DIR\/in\.jsonl: invalid JSON on line 2: /);
    expect(await errorOf('{"text": "a"}\n', { from: 'jsonl-text', to: 'text2text' }, 'in.jsonl')).toBe(
      'dataset DIR/in.jsonl: jsonl-text holds raw text, which converts to text_only, not text2text (it has no prompt/response split)',
    );
    expect(await errorOf([{ instruction: 'i', output: 'o' }], { from: 'alpaca', to: 'text_only' })).toBe(
      'dataset DIR/in.json: alpaca records convert to text2text, conversation or paired_conversation; text_only would lose which part is the prompt',
    );
  });
});
