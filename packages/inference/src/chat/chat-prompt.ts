/**
 * A chat as prompt ids that end where the assistant's answer begins, with the data package's
 * conversation templates: the tokenizer's Jinja chat template rendered with
 * add_generation_prompt (as transformers' apply_chat_template), or an LMFlow preset, whose
 * answer prefix ("<|im_start|>assistant\n") is the assistant formatter up to {{content}}.
 * Also what ends an answer in that template (its end-of-turn token or text).
 */
import type { ConversationInstance, ConversationMessage } from '@lmflow/core';
import {
  chatTemplateContext,
  encodeConversation,
  resolveConversationTemplate,
  type ConversationTemplate,
  type PresetTemplate,
  type TemplateComponent,
  type Tokenizer,
} from '@lmflow/data';
import { GenerationError } from '../errors.js';

export type ChatRole = 'system' | 'user' | 'assistant';

export interface ChatMessage {
  role: ChatRole;
  content: string;
}

export interface ChatPrompt {
  /** The conversation, then the start of the assistant's turn. */
  ids: number[];
  template: ConversationTemplate;
  /** Tokens and texts that end the assistant's turn in this template. */
  endOfTurn: { tokenIds: number[]; stop: string[] };
  /** Notes for the user (a template without a system role puts the system text elsewhere). */
  warnings: string[];
}

const ROLES: readonly ChatRole[] = ['system', 'user', 'assistant'];

export function buildChatPrompt(tokenizer: Tokenizer, messages: readonly ChatMessage[], conversationTemplate: string | undefined, caller = 'chat'): ChatPrompt {
  const conversation = toConversation(messages, caller);
  const template = resolveConversationTemplate(conversationTemplate, tokenizer);
  if (template.kind === 'jinja') {
    const { text } = template.render(chatTemplateContext(tokenizer, conversation, { addGenerationPrompt: true }));
    // The template writes special tokens as text (BOS included), as apply_chat_template encodes.
    const ids = tokenizer.encode(text, { addSpecialTokens: false });
    return { ids, template, endOfTurn: { tokenIds: [], stop: [] }, warnings: [] };
  }
  // Encoding the conversation with a placeholder answer gives every earlier turn exactly as
  // training saw it (system placement, starter); the placeholder's segment is then replaced by
  // the answer prefix.
  const encoded = encodeConversation(template, tokenizer, { ...conversation, messages: [...conversation.messages, { role: 'assistant', content: 'x' }] });
  const ids = encoded.segments.slice(0, -1).flatMap((segment) => segment.ids);
  ids.push(...answerPrefix(template, tokenizer));
  return { ids, template, endOfTurn: endOfTurn(template, tokenizer), warnings: encoded.warnings };
}

/** Checks the messages and splits off a leading system message. */
function toConversation(messages: readonly ChatMessage[], caller: string): ConversationInstance {
  if (!Array.isArray(messages) || messages.length === 0) throw new GenerationError(`${caller}: messages must be a non-empty list of {role, content}`);
  messages.forEach((m, i) => {
    if (typeof m !== 'object' || m === null) throw new GenerationError(`${caller}: messages[${i}] is ${JSON.stringify(m)}, expected {role, content}`);
    if (!ROLES.includes(m.role)) throw new GenerationError(`${caller}: messages[${i}].role is ${JSON.stringify(m.role)}, expected "system", "user" or "assistant"`);
    if (typeof m.content !== 'string') throw new GenerationError(`${caller}: messages[${i}].content is ${JSON.stringify(m.content)}, expected a string`);
    if (m.role === 'system' && i > 0) throw new GenerationError(`${caller}: messages[${i}].role is "system"; a system message can only come first`);
  });
  const hasSystem = messages[0]!.role === 'system';
  const turns = messages.slice(hasSystem ? 1 : 0);
  turns.forEach((m, i) => {
    const expected = i % 2 === 0 ? 'user' : 'assistant';
    if (m.role !== expected) {
      throw new GenerationError(`${caller}: messages[${i + (hasSystem ? 1 : 0)}].role is "${m.role}", expected "${expected}" (turns alternate user, assistant, ... after an optional system message)`);
    }
  });
  if (turns.length === 0 || turns[turns.length - 1]!.role !== 'user') {
    throw new GenerationError(`${caller}: the last message must be the user's (the model answers it); got ${turns.length === 0 ? 'only a system message' : '"assistant"'}`);
  }
  return {
    ...(hasSystem ? { system: messages[0]!.content } : {}),
    messages: turns.map((m): ConversationMessage => ({ role: m.role, content: m.content })),
  };
}

/** The assistant formatter up to {{content}}: what the model's answer follows. */
function answerPrefix(template: PresetTemplate, tokenizer: Tokenizer): number[] {
  const ids: number[] = [];
  for (const component of template.assistant) {
    if (component.type === 'token') {
      ids.push(componentTokenId(component, tokenizer, template.name));
      continue;
    }
    const at = component.content.indexOf('{{content}}');
    const text = at === -1 ? component.content : component.content.slice(0, at);
    if (text !== '') ids.push(...tokenizer.encode(text, { addSpecialTokens: false }));
    if (at !== -1) break;
  }
  return ids;
}

/**
 * What follows {{content}} in the assistant formatter: a token component (EOS), or text whose
 * first part is one vocabulary token ("<|im_end|>") or else a stop string.
 */
function endOfTurn(template: PresetTemplate, tokenizer: Tokenizer): { tokenIds: number[]; stop: string[] } {
  const components = template.assistant;
  const at = components.findIndex((c) => c.type === 'string' && c.content.includes('{{content}}'));
  if (at === -1) return { tokenIds: [], stop: [] };
  const content = components[at]!.content;
  const after = content.slice(content.indexOf('{{content}}') + '{{content}}'.length).trim();
  if (after !== '') {
    const id = tokenizer.tokenToId(after);
    return id !== undefined ? { tokenIds: [id], stop: [] } : { tokenIds: [], stop: [after] };
  }
  const next = components[at + 1];
  if (next?.type === 'token') return { tokenIds: [componentTokenId(next, tokenizer, template.name)], stop: [] };
  return { tokenIds: [], stop: [] };
}

function componentTokenId(component: TemplateComponent, tokenizer: Tokenizer, templateName: string): number {
  const name = component.content;
  const id = name === 'bos_token' ? tokenizer.bosTokenId : name === 'eos_token' ? tokenizer.eosTokenId : (tokenizer.tokenToId(name) ?? null);
  if (id === null) throw new GenerationError(`conversation template "${templateName}" needs the token ${name}, which ${tokenizer.path} does not define; choose another template`);
  return id;
}
