import { beforeAll, describe, expect, it } from 'vitest';
import { Template } from '@huggingface/jinja';
import { IGNORE_INDEX, type ConversationInstance } from '@lmflow/core';
import { loadTokenizer, type Tokenizer } from '../tokenizer/load-tokenizer.js';
import { tokenizeConversation } from '../tokenize/tokenize-instance.js';
import { assertTemplateTrains, resolveConversationTemplate } from './resolve-template.js';
import { chatTemplateContext, compileJinjaTemplate } from './jinja-template.js';
import { tokenCharOffsets } from './encode-spans.js';
import { gpt2Dir, llama2Dir, qwen3Dir } from '../test-fixtures.js';

let qwen: Tokenizer;
let llama: Tokenizer;
let gpt2: Tokenizer;
beforeAll(async () => {
  [qwen, llama, gpt2] = await Promise.all([loadTokenizer(qwen3Dir), loadTokenizer(llama2Dir), loadTokenizer(gpt2Dir)]);
});

const chat: ConversationInstance = {
  system: 'You are terse.',
  messages: [
    { role: 'user', content: 'Hello' },
    { role: 'assistant', content: 'Hi!' },
    { role: 'user', content: 'How are you?' },
    { role: 'assistant', content: 'Fine.' },
  ],
};

/** Qwen's ChatML with assistant turns marked, in the whitespace-controlled style of real templates. */
const MARKED_CHATML = [
  '{%- for message in messages %}',
  "    {%- if message.role == 'assistant' %}",
  "        {{- '<|im_start|>assistant\\n' }}",
  '        {%- generation %}',
  "            {{- message.content + '<|im_end|>' }}",
  '        {%- endgeneration %}',
  "        {{- '\\n' }}",
  '    {%- else %}',
  "        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' }}",
  '    {%- endif %}',
  '{%- endfor %}',
  '',
].join('\n');

describe('the tokenizer\'s chat template (@huggingface/jinja)', () => {
  it('renders Qwen3\'s own template as Qwen3 does (thinking block on the last answer only)', () => {
    const template = resolveConversationTemplate(undefined, qwen);
    expect(template.kind).toBe('jinja');
    const { text, spans } = (template as ReturnType<typeof compileJinjaTemplate>).render(chatTemplateContext(qwen, chat));
    expect(text).toBe(
      '<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\nHi!<|im_end|>\n' +
        '<|im_start|>user\nHow are you?<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\nFine.<|im_end|>\n',
    );
    expect(spans).toEqual([]);
    const prompt = (template as ReturnType<typeof compileJinjaTemplate>).render(chatTemplateContext(qwen, { messages: [{ role: 'user', content: 'Hi' }] }, { addGenerationPrompt: true }));
    expect(prompt.text).toBe('<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n');
  });

  it('renders exactly what @huggingface/jinja renders, generation tags or not', () => {
    const context = chatTemplateContext(qwen, chat);
    for (const source of [qwen.chatTemplate!, MARKED_CHATML, '{% for m in messages %}{% generation %}{{ m.content }}{% endgeneration %}\n{% endfor %}\n\n']) {
      expect(compileJinjaTemplate(source).render(context).text).toBe(new Template(source).render(context));
    }
  });

  it('without {% generation %} marks, trains only with --train_on_prompt (every token learned)', () => {
    const template = resolveConversationTemplate('tokenizer', qwen);
    expect(() => assertTemplateTrains(template, false)).toThrow(
      'the tokenizer\'s chat template (conversation template "tokenizer") has no {% generation %} marks, so which tokens are the assistant\'s cannot be known: pass --train_on_prompt',
    );
    assertTemplateTrains(template, true);
    const { sample } = tokenizeConversation(qwen, template, chat, { trainOnPrompt: true });
    const text = (template as ReturnType<typeof compileJinjaTemplate>).render(chatTemplateContext(qwen, chat)).text;
    expect(sample!.inputIds).toEqual(qwen.encode(text, { addSpecialTokens: false }));
    expect(sample!.labels).toEqual(sample!.inputIds);
  });

  it('learns exactly the {% generation %} spans (Qwen3 tokenizer)', () => {
    const template = compileJinjaTemplate(MARKED_CHATML);
    assertTemplateTrains(template, false);
    const { sample } = tokenizeConversation(qwen, template, chat);
    const enc = (s: string) => qwen.encode(s, { addSpecialTokens: false });
    const segments: [boolean, number[]][] = [
      [false, enc('<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n')],
      [true, enc('Hi!<|im_end|>')],
      [false, enc('\n<|im_start|>user\nHow are you?<|im_end|>\n<|im_start|>assistant\n')],
      [true, enc('Fine.<|im_end|>')],
      [false, enc('\n')],
    ];
    expect(sample!.inputIds).toEqual(segments.flatMap(([, ids]) => ids));
    expect(sample!.labels).toEqual(segments.flatMap(([learned, ids]) => (learned ? ids : ids.map(() => IGNORE_INDEX))));
  });

  it('maps spans to the tokens of the whole text, as transformers does, when a token straddles a span border (Llama-2)', () => {
    const source = "{{ bos_token }}{% for m in messages %}{% if m.role == 'user' %}[INST] {{ m.content }} [/INST]{% else %}{% generation %} {{ m.content }} {{ eos_token }}{% endgeneration %}{% endif %}{% endfor %}";
    const template = compileJinjaTemplate(source);
    const conversation = { messages: chat.messages.slice(0, 2) };
    const { text, spans } = template.render(chatTemplateContext(llama, conversation));
    expect(text).toBe('<s>[INST] Hello [/INST] Hi! </s>');
    expect(spans).toEqual([[23, 32]]);
    const whole = llama.encode(text, { addSpecialTokens: false });
    expect(whole.map((id) => llama.idToToken(id))).toEqual(['<s>', '▁[', 'INST', ']', '▁Hello', '▁[', '/', 'INST', ']', '▁Hi', '!', '▁', '</s>']);
    // The span starts at the space that "▁Hi" carries: that token is learned, and the ids are
    // those of the whole text (encoding the span alone would give "▁▁Hi" instead).
    const { sample } = tokenizeConversation(llama, template, conversation);
    expect(sample!.inputIds).toEqual(whole);
    expect(sample!.labels).toEqual([...Array<number>(9).fill(IGNORE_INDEX), ...whole.slice(9)]);
    expect(tokenCharOffsets(llama, text, whole)).toEqual([[0, 3], [3, 4], [4, 8], [8, 9], [9, 15], [15, 17], [17, 18], [18, 22], [22, 23], [23, 26], [26, 27], [27, 28], [28, 32]]);
  });

  it('keeps the whitespace control of {%- generation -%} tags', () => {
    const source = "{% for m in messages %}{{ m.role }}:  {%- generation -%}  {{ m.content }}  {%- endgeneration %}  |{% endfor %}";
    const { text, spans } = compileJinjaTemplate(source).render({ messages: [{ role: 'assistant', content: 'x' }] });
    expect(text).toBe(new Template(source).render({ messages: [{ role: 'assistant', content: 'x' }] }));
    expect(text).toBe('assistant:x  |');
    expect(spans).toEqual([[10, 11]]);
  });

  it('resolves names: hf_auto and the default fall back to empty without a chat template; tokenizer needs one', () => {
    expect(resolveConversationTemplate(undefined, gpt2)).toMatchObject({ kind: 'preset', name: 'empty' });
    expect(resolveConversationTemplate('hf_auto', gpt2)).toMatchObject({ kind: 'preset', name: 'empty' });
    expect(resolveConversationTemplate('hf_auto', qwen).kind).toBe('jinja');
    expect(() => resolveConversationTemplate('tokenizer', gpt2)).toThrow(`--conversation_template tokenizer: ${gpt2Dir}/tokenizer_config.json has no "chat_template"`);
    expect(() => resolveConversationTemplate('vicuna', gpt2)).toThrow('--conversation_template is "vicuna", expected one of empty, empty_no_special_tokens, llama2, llama3, chatml, qwen2, internlm2, yi1_5, phi3, gemma, zephyr, deepseek, disable, yi, deepseek_v2, tokenizer, hf_auto');
  });

  it('reports template errors and reserved characters clearly', () => {
    expect(() => compileJinjaTemplate('{% for m in messages %}')).toThrow('chat template "tokenizer" could not be parsed: ');
    expect(() => compileJinjaTemplate("{{ raise_exception('no system role') }}").render({})).toThrow('chat template "tokenizer" failed: no system role');
    expect(() => compileJinjaTemplate('{% generation %}{% generation %}x{% endgeneration %}{% endgeneration %}').render({})).toThrow('a {% generation %} block opens inside another');
    expect(() => chatTemplateContext(qwen, { messages: [{ role: 'user', content: 'a\uE000b' }] })).toThrow('message content holds the private-use characters U+E000/U+E001');
  });

  it('passes tools to the template as objects', () => {
    const { text } = compileJinjaTemplate(qwen.chatTemplate!).render(chatTemplateContext(qwen, { ...chat, tools: ['{"name": "search"}', ''] }));
    expect(text.startsWith('<|im_start|>system\nYou are terse.\n\n# Tools\n')).toBe(true);
    expect(text).toContain('<tools>\n{"name": "search"}\n</tools>');
  });
});
