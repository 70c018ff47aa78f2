/**
 * Encoding a conversation with an LMFlow preset (spec: lmflow-conversation-templates.md):
 * messages in (user, assistant) pairs; each string component encoded on its own without special
 * tokens; the system placed before the first user ids (llama2: inside the first `[INST] `); the
 * starter before everything and the stopper after the last assistant ids; user segments masked,
 * assistant segments learned in full.
 */
import type { ConversationInstance } from '@lmflow/core';
import type { Tokenizer } from '../tokenizer/load-tokenizer.js';
import type { PresetTemplate, TemplateComponent } from './preset-templates.js';
import { hasSystem, nonEmptyTools, type EncodedConversation, type EncodedSegment } from './conversation-parts.js';
import { TemplateError } from './template-error.js';

export function encodeWithPreset(template: PresetTemplate, tokenizer: Tokenizer, conversation: ConversationInstance): EncodedConversation {
  const warnings: string[] = [];
  const system = hasSystem(conversation.system) ? conversation.system : null;
  if (system !== null && template.system === null) {
    throw new TemplateError(`"system" is given, but conversation template "${template.name}" has no system role; remove the system prompt or choose a template that has one (llama3, chatml, ...)`, 'system');
  }
  if (system !== null && template.systemWarning) warnings.push(`conversation template "${template.name}": ${template.systemWarning}`);
  if (nonEmptyTools(conversation.tools).length > 0) {
    // As LMFlow: ignored with a warning.
    warnings.push(
      `conversation template "${template.name}": "tools" were ignored (LMFlow's preset templates have no place for them); ` +
        'put the tool descriptions in the system prompt, or use the model\'s chat template (--conversation_template tokenizer)',
    );
  }

  const messages = conversation.messages;
  const pairs = Math.floor(messages.length / 2);
  const droppedTrailingUser = messages.length % 2 === 1;
  const segments: EncodedSegment[] = [];
  const encode = (components: readonly TemplateComponent[]) => encodeComponents(components, tokenizer, template.name);

  // llama2 puts the system text inside the first user string; the others encode it on its own.
  const systemText = system !== null && template.systemInFirstUser ? formatText(template.system!, system) : '';
  const systemIds = system !== null && !template.systemInFirstUser ? encode(format(template.system!, system)) : [];

  for (let pair = 0; pair < pairs; pair++) {
    const user = messages[2 * pair]!;
    const assistant = messages[2 * pair + 1]!;
    const userComponents = format(template.user, pair === 0 ? systemText + user.content : user.content);
    if (pair === 0 && system === null && template.firstUserDropsNewlineWithoutSystem) {
      const first = userComponents.findIndex((c) => c.type === 'string');
      if (first !== -1) userComponents[first] = { type: 'string', content: userComponents[first]!.content.replace('\n', '') };
    }
    const userIds = encode(userComponents);
    segments.push({ ids: pair === 0 ? [...systemIds, ...userIds] : userIds, learned: false });
    segments.push({ ids: encode(format(template.assistant, assistant.content)), learned: true });
  }
  if (pairs > 0 && template.specialStarter) segments[0]!.ids.unshift(...encode([template.specialStarter]));
  if (pairs > 0 && template.specialStopper) segments[segments.length - 1]!.ids.push(...encode([template.specialStopper]));
  return { segments, droppedTrailingUser, warnings };
}

/** `{{content}}` substituted into each string component; empty content becomes a single space (spec, rule 1). */
function format(components: readonly TemplateComponent[], content: string): TemplateComponent[] {
  const value = content === '' ? ' ' : content;
  return components.map((c) => (c.type === 'string' ? { type: 'string', content: c.content.replaceAll('{{content}}', value) } : c));
}

function formatText(components: readonly TemplateComponent[], content: string): string {
  return format(components, content)
    .filter((c) => c.type === 'string')
    .map((c) => c.content)
    .join('');
}

function encodeComponents(components: readonly TemplateComponent[], tokenizer: Tokenizer, templateName: string): number[] {
  const ids: number[] = [];
  for (const c of components) {
    if (c.type === 'string') {
      ids.push(...tokenizer.encode(c.content, { addSpecialTokens: false }));
    } else {
      ids.push(tokenId(c.content, tokenizer, templateName));
    }
  }
  return ids;
}

function tokenId(name: string, tokenizer: Tokenizer, templateName: string): number {
  if (name === 'bos_token' || name === 'eos_token') {
    const id = name === 'bos_token' ? tokenizer.bosTokenId : tokenizer.eosTokenId;
    if (id === null) {
      throw new TemplateError(`conversation template "${templateName}" needs the tokenizer's ${name}, but ${tokenizer.path} defines none (tokenizer_config.json "${name}"); choose another template`);
    }
    return id;
  }
  const id = tokenizer.tokenToId(name);
  if (id === undefined) throw new TemplateError(`conversation template "${templateName}" uses the token ${JSON.stringify(name)}, which is not in the vocabulary of ${tokenizer.path}`);
  return id;
}
