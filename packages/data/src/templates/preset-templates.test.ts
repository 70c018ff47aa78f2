/**
 * Every preset of the spec (../shared/spec/lmflow-conversation-templates.md) on one multi-turn
 * conversation with a system prompt. The expected ids are built here from separate encode calls
 * per string component, BOS/EOS as single ids, so each case states the template's rule.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { IGNORE_INDEX, type ConversationInstance } from '@lmflow/core';
import { loadTokenizer, type Tokenizer } from '../tokenizer/load-tokenizer.js';
import { tokenizeConversation } from '../tokenize/tokenize-instance.js';
import { resolveConversationTemplate } from './resolve-template.js';
import { PRESET_ALIASES, PRESET_NAMES } from './preset-templates.js';
import { llama2Dir, qwen3Dir } from '../test-fixtures.js';

let tok: Tokenizer;
let qwen: Tokenizer;
beforeAll(async () => {
  tok = await loadTokenizer(llama2Dir);
  qwen = await loadTokenizer(qwen3Dir);
});

const SYSTEM = 'You are terse.';
const chat: ConversationInstance = {
  system: SYSTEM,
  messages: [
    { role: 'user', content: 'Hello' },
    { role: 'assistant', content: 'Hi!' },
    { role: 'user', content: 'How are you?' },
    { role: 'assistant', content: 'Fine.' },
  ],
};
const noSystem: ConversationInstance = { messages: chat.messages };

type Segment = [learned: boolean, ids: number[]];

function tokenize(template: string, conversation: ConversationInstance, tokenizer = tok, trainOnPrompt = false) {
  return tokenizeConversation(tokenizer, resolveConversationTemplate(template, tokenizer), conversation, { trainOnPrompt });
}

function expectSegments(template: string, conversation: ConversationInstance, segments: Segment[], tokenizer = tok): void {
  const { sample } = tokenize(template, conversation, tokenizer);
  const ids = segments.flatMap(([, s]) => s);
  const labels = segments.flatMap(([learned, s]) => (learned ? s : s.map(() => IGNORE_INDEX)));
  expect(sample!.inputIds, `${template}: ids`).toEqual(ids);
  expect(sample!.labels, `${template}: labels`).toEqual(labels);
  // --train_on_prompt learns everything.
  expect(tokenize(template, conversation, tokenizer, true).sample!.labels, `${template}: train_on_prompt`).toEqual(ids);
}

describe('LMFlow preset templates (Llama-2 tokenizer)', () => {
  const enc = (text: string) => tok.encode(text, { addSpecialTokens: false });
  const BOS = () => [tok.bosTokenId!];
  const EOS = () => [tok.eosTokenId!];

  it('llama2: the spec\'s worked example, bit-exact', () => {
    const { sample } = tokenize('llama2', { system: 'sysinfo', messages: [{ role: 'user', content: 'Hello' }, { role: 'assistant', content: 'Hi!' }] });
    expect(sample!.inputIds).toEqual([1, 518, 25580, 29962, 3532, 14816, 29903, 6778, 13, 9675, 3888, 13, 29966, 829, 14816, 29903, 6778, 13, 13, 10994, 518, 29914, 25580, 29962, 6324, 29991, 2]);
    expect(sample!.labels).toEqual([...Array<number>(24).fill(-100), 6324, 29991, 2]);
  });

  it('llama2: BOS then one encode of "[INST] <<SYS>>...<</SYS>>\\n\\n{c} [/INST]" per user turn, system inside the first', () => {
    expectSegments('llama2', chat, [
      [false, [...BOS(), ...enc(`[INST] <<SYS>>\n${SYSTEM}\n<</SYS>>\n\nHello [/INST]`)]],
      [true, [...enc('Hi!'), ...EOS()]],
      [false, [...BOS(), ...enc('[INST] How are you? [/INST]')]],
      [true, [...enc('Fine.'), ...EOS()]],
    ]);
  });

  it('llama3: header strings per turn, system before the first user, BOS starter once', () => {
    const turn = (role: string, c: string) => enc(`<|start_header_id|>${role}<|end_header_id|>\n\n${c}<|eot_id|>`);
    expectSegments('llama3', chat, [
      [false, [...BOS(), ...turn('system', SYSTEM), ...turn('user', 'Hello')]],
      [true, turn('assistant', 'Hi!')],
      [false, turn('user', 'How are you?')],
      [true, turn('assistant', 'Fine.')],
    ]);
  });

  const chatml = (role: string, c: string, t = tok) => t.encode(`<|im_start|>${role}\n${c}<|im_end|>\n`, { addSpecialTokens: false });
  for (const name of ['chatml', 'yi', 'qwen2']) {
    it(`${name}: <|im_start|>role\\n{c}<|im_end|>\\n per turn, system first, no starter`, () => {
      expectSegments(name, chat, [
        [false, [...chatml('system', SYSTEM), ...chatml('user', 'Hello')]],
        [true, chatml('assistant', 'Hi!')],
        [false, chatml('user', 'How are you?')],
        [true, chatml('assistant', 'Fine.')],
      ]);
    });
  }

  it('internlm2: chatml with a BOS starter', () => {
    expectSegments('internlm2', chat, [
      [false, [...BOS(), ...chatml('system', SYSTEM), ...chatml('user', 'Hello')]],
      [true, chatml('assistant', 'Hi!')],
      [false, chatml('user', 'How are you?')],
      [true, chatml('assistant', 'Fine.')],
    ]);
  });

  it('yi1_5: chatml turns, the system as bare text', () => {
    expectSegments('yi1_5', chat, [
      [false, [...enc(SYSTEM), ...chatml('user', 'Hello')]],
      [true, chatml('assistant', 'Hi!')],
      [false, chatml('user', 'How are you?')],
      [true, chatml('assistant', 'Fine.')],
    ]);
  });

  it('phi3: <|role|>\\n{c}<|end|>\\n, BOS starter, EOS stopper learned with the last answer', () => {
    const turn = (role: string, c: string) => enc(`<|${role}|>\n${c}<|end|>\n`);
    expectSegments('phi3', chat, [
      [false, [...BOS(), ...turn('system', SYSTEM), ...turn('user', 'Hello')]],
      [true, turn('assistant', 'Hi!')],
      [false, turn('user', 'How are you?')],
      [true, [...turn('assistant', 'Fine.'), ...EOS()]],
    ]);
  });

  it('gemma: model turns, the system as bare text with a warning, BOS starter', () => {
    const turn = (role: string, c: string) => enc(`<start_of_turn>${role}\n${c}<end_of_turn>\n`);
    expectSegments('gemma', chat, [
      [false, [...BOS(), ...enc(SYSTEM), ...turn('user', 'Hello')]],
      [true, turn('model', 'Hi!')],
      [false, turn('user', 'How are you?')],
      [true, turn('model', 'Fine.')],
    ]);
    expect(tokenize('gemma', chat).warnings).toEqual(['conversation template "gemma": Gemma has no system role: the system prompt is put as plain text before the first user turn']);
    expect(tokenize('gemma', noSystem).warnings).toEqual([]);
  });

  it('zephyr: EOS after every turn; without a system the first user string drops its leading newline', () => {
    expectSegments('zephyr', chat, [
      [false, [...enc(`<|system|>\n${SYSTEM}`), ...EOS(), ...enc('\n<|user|>\nHello'), ...EOS()]],
      [true, [...enc('\n<|assistant|>\nHi!'), ...EOS()]],
      [false, [...enc('\n<|user|>\nHow are you?'), ...EOS()]],
      [true, [...enc('\n<|assistant|>\nFine.'), ...EOS()]],
    ]);
    expectSegments('zephyr', noSystem, [
      [false, [...enc('<|user|>\nHello'), ...EOS()]],
      [true, [...enc('\n<|assistant|>\nHi!'), ...EOS()]],
      [false, [...enc('\n<|user|>\nHow are you?'), ...EOS()]],
      [true, [...enc('\n<|assistant|>\nFine.'), ...EOS()]],
    ]);
  });

  for (const name of ['deepseek', 'deepseek_v2']) {
    it(`${name}: "User: {c}\\n\\n" / "Assistant: {c}" EOS, system "{c}\\n\\n", BOS starter`, () => {
      expectSegments(name, chat, [
        [false, [...BOS(), ...enc(`${SYSTEM}\n\n`), ...enc('User: Hello\n\n')]],
        [true, [...enc('Assistant: Hi!'), ...EOS()]],
        [false, enc('User: How are you?\n\n')],
        [true, [...enc('Assistant: Fine.'), ...EOS()]],
      ]);
    });
  }

  for (const name of ['empty', 'disable']) {
    it(`${name}: BOS + {c} / {c} + EOS; a system prompt is an error`, () => {
      expectSegments(name, noSystem, [
        [false, [...BOS(), ...enc('Hello')]],
        [true, [...enc('Hi!'), ...EOS()]],
        [false, [...BOS(), ...enc('How are you?')]],
        [true, [...enc('Fine.'), ...EOS()]],
      ]);
      expect(() => tokenize(name, chat)).toThrow('"system" is given, but conversation template "empty" has no system role; remove the system prompt or choose a template that has one (llama3, chatml, ...)');
    });
  }

  it('empty_no_special_tokens: the contents alone; a system prompt is an error', () => {
    expectSegments('empty_no_special_tokens', noSystem, [
      [false, enc('Hello')],
      [true, enc('Hi!')],
      [false, enc('How are you?')],
      [true, enc('Fine.')],
    ]);
    expect(() => tokenize('empty_no_special_tokens', chat)).toThrow('has no system role');
  });

  it('covers every preset and alias the spec lists', () => {
    expect([...PRESET_NAMES].sort()).toEqual(['chatml', 'deepseek', 'empty', 'empty_no_special_tokens', 'gemma', 'internlm2', 'llama2', 'llama3', 'phi3', 'qwen2', 'yi1_5', 'zephyr']);
    expect(PRESET_ALIASES).toEqual({ disable: 'empty', yi: 'chatml', deepseek_v2: 'deepseek' });
  });

  it('treats a system of only spaces as none (but other whitespace as a system)', () => {
    expect(tokenize('empty', { ...noSystem, system: '   ' }).sample).toEqual(tokenize('empty', noSystem).sample);
    expect(tokenize('empty', { ...noSystem, system: '' }).sample).toEqual(tokenize('empty', noSystem).sample);
    expect(() => tokenize('empty', { ...noSystem, system: '\n' })).toThrow('has no system role');
  });

  it('drops a trailing user message, skips a conversation without a reply, encodes empty content as " "', () => {
    const trailing = tokenize('llama2', { messages: [...noSystem.messages, { role: 'user', content: 'Bye' }] });
    expect(trailing.droppedTrailingUser).toBe(true);
    expect(trailing.sample).toEqual(tokenize('llama2', noSystem).sample);
    const lone = tokenize('llama2', { messages: [{ role: 'user', content: 'Anyone?' }] });
    expect([lone.sample, lone.droppedTrailingUser]).toEqual([null, true]);
    const blank = tokenize('empty', { messages: [{ role: 'user', content: '' }, { role: 'assistant', content: '' }] });
    expect(blank.sample!.inputIds).toEqual([...BOS(), ...enc(' '), ...enc(' '), ...EOS()]);
  });

  it('ignores tools with a warning, as LMFlow does; [""] counts as none', () => {
    expect(tokenize('chatml', { ...chat, tools: [''] })).toEqual(tokenize('chatml', chat));
    const withTools = tokenize('chatml', { ...chat, tools: ['{"name": "search"}'] });
    expect(withTools.sample).toEqual(tokenize('chatml', chat).sample);
    expect(withTools.warnings).toEqual([expect.stringContaining('"tools" were ignored')]);
  });

  it('puts a single space for empty content inside the template strings (chatml)', () => {
    const blank = tokenize('chatml', { messages: [{ role: 'user', content: '' }, { role: 'assistant', content: 'a' }] });
    const userIds = tok.encode('<|im_start|>user\n <|im_end|>\n', { addSpecialTokens: false });
    expect(blank.sample!.inputIds.slice(0, userIds.length)).toEqual(userIds);
  });
});

describe('LMFlow preset templates (Qwen3 tokenizer: chat tokens are single added tokens)', () => {
  it('chatml/qwen2 encode <|im_start|> and <|im_end|> as their ids', () => {
    const { sample } = tokenize('qwen2', chat, qwen);
    const turn = (role: string, c: string) => qwen.encode(`<|im_start|>${role}\n${c}<|im_end|>\n`, { addSpecialTokens: false });
    expect(turn('assistant', 'Hi!')).toEqual([151644, 77091, 198, 13048, 0, 151645, 198]);
    expect(sample!.inputIds).toEqual([...turn('system', SYSTEM), ...turn('user', 'Hello'), ...turn('assistant', 'Hi!'), ...turn('user', 'How are you?'), ...turn('assistant', 'Fine.')]);
    const learned = sample!.labels.filter((l) => l !== IGNORE_INDEX);
    expect(learned).toEqual([...turn('assistant', 'Hi!'), ...turn('assistant', 'Fine.')]);
  });

  it('says which token is missing when a template needs BOS and the tokenizer has none', () => {
    expect(() => tokenize('llama3', chat, qwen)).toThrow(`conversation template "llama3" needs the tokenizer's bos_token, but ${qwen3Dir} defines none (tokenizer_config.json "bos_token"); choose another template`);
  });
});
