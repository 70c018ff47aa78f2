/**
 * A model's own chat template (tokenizer_config.json "chat_template"), rendered with
 * @huggingface/jinja, and which characters of the result are assistant output.
 *
 * transformers marks assistant output with `{% generation %}...{% endgeneration %}` blocks and
 * records their character spans while rendering. @huggingface/jinja accepts these tags but
 * deletes them before parsing (keeping their whitespace control), so the spans are lost. The
 * smallest sound way to keep them: do that same preprocessing here, but leave a marker
 * character (from Unicode's private use area, which no text or template should contain) where
 * each tag was, render, then cut the markers out and note where they stood. Everything else —
 * the lexer, parser and interpreter — is the package's own.
 */
import { Template, parse, tokenize } from '@huggingface/jinja';
import type { ConversationInstance } from '@lmflow/core';
import type { Tokenizer } from '../tokenizer/load-tokenizer.js';
import { hasSystem, nonEmptyTools, type EncodedConversation, type EncodedSegment } from './conversation-parts.js';
import { TemplateError } from './template-error.js';
import { encodeWithSpans } from './encode-spans.js';

const GENERATION_START = '\uE000';
const GENERATION_END = '\uE001';
const MARKERS = /[\uE000\uE001]/;

export interface JinjaTemplate {
  readonly kind: 'jinja';
  /** `tokenizer` (the name users pass), for messages. */
  readonly name: string;
  readonly source: string;
  /** Whether the template marks assistant output with {% generation %} blocks. */
  readonly hasGenerationMarks: boolean;
  /** Renders a chat; `spans` are [start, end) character ranges of generation blocks in `text`. */
  render(context: Record<string, unknown>): { text: string; spans: [number, number][] };
}

export function compileJinjaTemplate(source: string, name = 'tokenizer'): JinjaTemplate {
  let program;
  try {
    program = parse(tokenize(preprocess(source), {}));
  } catch (error) {
    throw new TemplateError(`chat template "${name}" could not be parsed: ${(error as Error).message}`);
  }
  // Template is the package's way to render a parsed program (it sets up the globals).
  const template = new Template('');
  template.parsed = program;
  return {
    kind: 'jinja',
    name,
    source,
    hasGenerationMarks: /{%-?\s*generation\s*-?%}/.test(source),
    render(context) {
      let rendered: string;
      try {
        rendered = template.render(context);
      } catch (error) {
        throw new TemplateError(`chat template "${name}" failed: ${(error as Error).message}`);
      }
      return cutMarkers(rendered, name);
    },
  };
}

/**
 * @huggingface/jinja's own preprocessing (drop one trailing newline, lstrip_blocks,
 * trim_blocks, then the generation tags with their whitespace control), with markers left
 * where the generation tags were. The lexer is then run with these options off.
 */
function preprocess(source: string): string {
  let text = source.endsWith('\n') ? source.slice(0, -1) : source;
  text = text.replace(/^[ \t]*({[#%-])/gm, '$1');
  text = text.replace(/([#%-]})\n/g, '$1');
  text = text.replace(/(\s*){%(-?)\s*(end)?generation\s*(-?)%}(\s*)/gs, (_m, before: string, lstrip: string, end: string | undefined, rstrip: string, after: string) => {
    return (lstrip ? '' : before) + (end ? GENERATION_END : GENERATION_START) + (rstrip ? '' : after);
  });
  // The lexer drops one trailing newline itself; this one was already dropped above.
  return text.endsWith('\n') ? `${text}\n` : text;
}

function cutMarkers(rendered: string, name: string): { text: string; spans: [number, number][] } {
  const spans: [number, number][] = [];
  let text = '';
  let open = -1;
  let last = 0;
  for (let i = 0; i < rendered.length; i++) {
    const ch = rendered[i];
    if (ch !== GENERATION_START && ch !== GENERATION_END) continue;
    text += rendered.slice(last, i);
    last = i + 1;
    if (ch === GENERATION_START) {
      if (open !== -1) throw new TemplateError(`chat template "${name}": a {% generation %} block opens inside another`);
      open = text.length;
    } else {
      if (open === -1) throw new TemplateError(`chat template "${name}": {% endgeneration %} without {% generation %}`);
      if (text.length > open) spans.push([open, text.length]);
      open = -1;
    }
  }
  text += rendered.slice(last);
  if (open !== -1) throw new TemplateError(`chat template "${name}": a {% generation %} block is not closed`);
  return { text, spans };
}

/** The variables transformers' apply_chat_template gives a template, for one conversation. */
export function chatTemplateContext(tokenizer: Tokenizer, conversation: ConversationInstance, options: { addGenerationPrompt?: boolean } = {}): Record<string, unknown> {
  const messages: { role: string; content: string }[] = [];
  if (hasSystem(conversation.system)) messages.push({ role: 'system', content: conversation.system });
  for (const m of conversation.messages) messages.push({ role: m.role, content: m.content });
  for (const [i, m] of messages.entries()) {
    if (MARKERS.test(m.content)) throw new TemplateError(`message content holds the private-use characters U+E000/U+E001, which LMFlow.ts reserves for chat template marks`, `messages[${i}].content`);
  }
  // LMFlow files hold tool descriptions as JSON strings (LLaMA-Factory: one string with a list);
  // templates expect the objects.
  const tools = nonEmptyTools(conversation.tools).flatMap((tool): unknown[] => {
    if (typeof tool !== 'string') return [tool];
    try {
      const parsed = JSON.parse(tool) as unknown;
      return Array.isArray(parsed) ? parsed : [parsed];
    } catch {
      return [tool];
    }
  });
  return {
    ...tokenizer.specialTokensMap,
    messages,
    ...(tools.length > 0 ? { tools } : {}),
    add_generation_prompt: options.addGenerationPrompt ?? false,
  };
}

/**
 * Encoding a conversation with the model's chat template: the rendered text is encoded whole
 * (without special tokens, as apply_chat_template does: the template writes them as text), and
 * tokens inside {% generation %} spans are learned. A trailing user message is left out, as with
 * the presets.
 */
export function encodeWithJinja(template: JinjaTemplate, tokenizer: Tokenizer, conversation: ConversationInstance): EncodedConversation {
  const droppedTrailingUser = conversation.messages.length % 2 === 1;
  const messages = droppedTrailingUser ? conversation.messages.slice(0, -1) : conversation.messages;
  if (messages.length === 0) return { segments: [], droppedTrailingUser, warnings: [] };
  const { text, spans } = template.render(chatTemplateContext(tokenizer, { ...conversation, messages }));
  const segments: EncodedSegment[] = encodeWithSpans(tokenizer, text, spans);
  return { segments, droppedTrailingUser, warnings: [] };
}
