/**
 * Chat prompts with real tokenizers: LMFlow presets give the ids training gives for the earlier
 * turns (the spec's worked example for llama2) followed by the assistant's answer prefix; a
 * Jinja chat template (Qwen3's) renders with add_generation_prompt as transformers does.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { loadTokenizer, type Tokenizer } from '@lmflow/data';
import { buildChatPrompt, type ChatMessage } from './chat-prompt.js';
import { llama2Tokenizer, qwen3Tokenizer, stories260K } from '../test-support/paths.js';

let llama: Tokenizer;
let qwen: Tokenizer;
let stories: Tokenizer;
beforeAll(async () => {
  [llama, qwen, stories] = await Promise.all([loadTokenizer(llama2Tokenizer), loadTokenizer(qwen3Tokenizer), loadTokenizer(stories260K)]);
});

// ../shared/spec/lmflow-conversation-templates.md, worked example (Llama-2 tokenizer, llama2 preset).
const SPEC_USER_IDS = [1, 518, 25580, 29962, 3532, 14816, 29903, 6778, 13, 9675, 3888, 13, 29966, 829, 14816, 29903, 6778, 13, 13, 10994, 518, 29914, 25580, 29962];
const SPEC_ASSISTANT_IDS = [6324, 29991, 2];
// ../shared/tokenizers/README.md: "[INST] How are you? [/INST]" with BOS.
const HOW_ARE_YOU_IDS = [1, 518, 25580, 29962, 1128, 526, 366, 29973, 518, 29914, 25580, 29962];

describe('buildChatPrompt with LMFlow presets', () => {
  it('llama2: the spec\'s user ids, then each earlier answer as trained, then the next [INST] turn; EOS ends a turn', () => {
    const first = buildChatPrompt(llama, [
      { role: 'system', content: 'sysinfo' },
      { role: 'user', content: 'Hello' },
    ], 'llama2');
    expect(first.ids).toEqual(SPEC_USER_IDS);
    expect(first.endOfTurn).toEqual({ tokenIds: [2], stop: [] });

    const second = buildChatPrompt(llama, [
      { role: 'system', content: 'sysinfo' },
      { role: 'user', content: 'Hello' },
      { role: 'assistant', content: 'Hi!' },
      { role: 'user', content: 'How are you?' },
    ], 'llama2');
    expect(second.ids).toEqual([...SPEC_USER_IDS, ...SPEC_ASSISTANT_IDS, ...HOW_ARE_YOU_IDS]);
  });

  it('chatml with Qwen3\'s vocabulary: turns, then "<|im_start|>assistant\\n"; <|im_end|> ends a turn', () => {
    const messages: ChatMessage[] = [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Hi' },
      { role: 'assistant', content: 'Hello!' },
      { role: 'user', content: 'Name a color.' },
    ];
    const prompt = buildChatPrompt(qwen, messages, 'chatml');
    const encode = (text: string) => qwen.encode(text, { addSpecialTokens: false });
    expect(prompt.ids).toEqual([
      ...encode('<|im_start|>system\nBe brief.<|im_end|>\n'),
      ...encode('<|im_start|>user\nHi<|im_end|>\n'),
      ...encode('<|im_start|>assistant\nHello!<|im_end|>\n'),
      ...encode('<|im_start|>user\nName a color.<|im_end|>\n'),
      ...encode('<|im_start|>assistant\n'),
    ]);
    expect(qwen.decode(prompt.ids).endsWith('<|im_end|>\n<|im_start|>assistant\n')).toBe(true);
    expect(prompt.endOfTurn).toEqual({ tokenIds: [qwen.tokenToId('<|im_end|>')], stop: [] });
  });

  it('empty (the default without a chat template): BOS then the text; a vocabulary without <|im_end|> gets a stop string', () => {
    const prompt = buildChatPrompt(stories, [{ role: 'user', content: 'Tom had a dog.' }], undefined);
    expect(prompt.template.name).toBe('empty');
    expect(prompt.ids).toEqual([1, ...stories.encode('Tom had a dog.', { addSpecialTokens: false })]);
    expect(prompt.endOfTurn).toEqual({ tokenIds: [2], stop: [] });
    expect(buildChatPrompt(stories, [{ role: 'user', content: 'Hi' }], 'chatml').endOfTurn).toEqual({ tokenIds: [], stop: ['<|im_end|>'] });
  });
});

describe('buildChatPrompt with the tokenizer\'s Jinja chat template', () => {
  it('renders Qwen3\'s template with add_generation_prompt and encodes it without adding special tokens', () => {
    const prompt = buildChatPrompt(qwen, [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Hi' },
    ], undefined);
    expect(prompt.template.kind).toBe('jinja');
    const text = '<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n';
    expect(qwen.decode(prompt.ids)).toBe(text);
    expect(prompt.ids).toEqual(qwen.encode(text, { addSpecialTokens: false }));
    // The tokenizer's own EOS (<|im_end|> for Qwen3) is the default end; nothing more is added.
    expect(prompt.endOfTurn).toEqual({ tokenIds: [], stop: [] });
  });
});

describe('buildChatPrompt checks the messages', () => {
  it('names the message and what was expected', () => {
    const build = (messages: unknown) => () => buildChatPrompt(stories, messages as ChatMessage[], undefined);
    expect(build([])).toThrow('chat: messages must be a non-empty list of {role, content}');
    expect(build([{ role: 'bot', content: 'x' }])).toThrow('chat: messages[0].role is "bot", expected "system", "user" or "assistant"');
    expect(build([{ role: 'user', content: 3 }])).toThrow('chat: messages[0].content is 3, expected a string');
    expect(build([{ role: 'user', content: 'a' }, { role: 'system', content: 'b' }])).toThrow('chat: messages[1].role is "system"; a system message can only come first');
    expect(build([{ role: 'user', content: 'a' }, { role: 'user', content: 'b' }])).toThrow('chat: messages[1].role is "user", expected "assistant"');
    expect(build([{ role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }])).toThrow('chat: the last message must be the user\'s (the model answers it); got "assistant"');
    expect(build([{ role: 'system', content: 'a' }])).toThrow('got only a system message');
    // A preset without a system role refuses a system prompt (the data package's message).
    expect(build([{ role: 'system', content: 'a' }, { role: 'user', content: 'b' }])).toThrow(/conversation template "empty" has no system role/);
  });
});
