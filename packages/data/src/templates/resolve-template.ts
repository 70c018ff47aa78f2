/**
 * `--conversation_template NAME`: a preset by name (or alias), `tokenizer` for the model's own
 * chat template, `hf_auto` for that template when the tokenizer has one and `empty` otherwise.
 * Without a name, the same rule as hf_auto.
 */
import type { ConversationInstance } from '@lmflow/core';
import type { Tokenizer } from '../tokenizer/load-tokenizer.js';
import { PRESET_ALIASES, PRESET_NAMES, findPreset, type PresetTemplate } from './preset-templates.js';
import { compileJinjaTemplate, encodeWithJinja, type JinjaTemplate } from './jinja-template.js';
import { encodeWithPreset } from './encode-preset.js';
import { TemplateError } from './template-error.js';
import type { EncodedConversation } from './conversation-parts.js';

export type ConversationTemplate = PresetTemplate | JinjaTemplate;

/** Every name --conversation_template accepts. */
export const CONVERSATION_TEMPLATE_NAMES: readonly string[] = [...PRESET_NAMES, ...Object.keys(PRESET_ALIASES), 'tokenizer', 'hf_auto'];

export function resolveConversationTemplate(name: string | undefined, tokenizer: Tokenizer): ConversationTemplate {
  if (name === undefined || name === 'hf_auto') {
    return tokenizer.chatTemplate !== null ? compileJinjaTemplate(tokenizer.chatTemplate) : findPreset('empty')!;
  }
  if (name === 'tokenizer') {
    if (tokenizer.chatTemplate === null) {
      throw new TemplateError(`--conversation_template tokenizer: ${tokenizer.path}/tokenizer_config.json has no "chat_template"; choose a preset (${PRESET_NAMES.join(', ')})`);
    }
    return compileJinjaTemplate(tokenizer.chatTemplate);
  }
  const preset = findPreset(name);
  if (preset) return preset;
  throw new TemplateError(`--conversation_template is "${name}", expected one of ${CONVERSATION_TEMPLATE_NAMES.join(', ')}`);
}

/**
 * Checks, before any work, that a template can give labels: a chat template without
 * {% generation %} marks does not say which tokens are the assistant's.
 */
export function assertTemplateTrains(template: ConversationTemplate, trainOnPrompt: boolean): void {
  if (template.kind === 'jinja' && !template.hasGenerationMarks && !trainOnPrompt) {
    throw new TemplateError(
      `the tokenizer's chat template (conversation template "${template.name}") has no {% generation %} marks, so which tokens are the ` +
        'assistant\'s cannot be known: pass --train_on_prompt to learn every token, or choose a preset that matches the model ' +
        `(--conversation_template ${PRESET_NAMES.filter((n) => n !== 'empty_no_special_tokens').join('|')})`,
    );
  }
}

export function encodeConversation(template: ConversationTemplate, tokenizer: Tokenizer, conversation: ConversationInstance): EncodedConversation {
  return template.kind === 'preset' ? encodeWithPreset(template, tokenizer, conversation) : encodeWithJinja(template, tokenizer, conversation);
}
