/**
 * Tokenization with labels, per dataset type (labels are IGNORE_INDEX where no loss is taken):
 * - text_only: the text encoded with the tokenizer's special tokens (BOS for Llama-style
 *   tokenizers), no EOS added; every token learned.
 * - text2text: input and output encoded separately without special tokens and concatenated;
 *   the input masked. LMFlow adds nothing between or after them, and models trained that way
 *   never stop, so EOS is appended after the output unless addEos is false.
 * - conversation: the conversation template's ids; assistant turns learned (template.ts).
 * - image_text: the text as text_only; the images are for a multimodal plugin's tokenizeSample tap.
 * - paired_conversation: each side as a conversation; text_to_scored_textlist: each candidate
 *   as text2text with the shared input.
 */
import { IGNORE_INDEX, type ConversationInstance, type TokenizedSample } from '@lmflow/core';
import type { Tokenizer } from '../tokenizer/load-tokenizer.js';
import { encodeConversation, type ConversationTemplate } from '../templates/resolve-template.js';
import { segmentsToSample } from '../templates/conversation-parts.js';
import { TemplateError } from '../templates/template-error.js';

export interface TokenizeOptions {
  /**
   * A preset name (`llama3`, `chatml`, ...), `tokenizer`, `hf_auto`, or a template from
   * resolveConversationTemplate. @default the tokenizer's chat template when it has one, else `empty`
   */
  conversationTemplate?: string | ConversationTemplate;
  /** Learn the prompt too: user turns and system of conversations, the input of text2text. @default false */
  trainOnPrompt?: boolean;
  /** Append EOS after a text2text output (and each scored candidate). @default true */
  addEos?: boolean;
}

export function tokenizeTextOnly(tokenizer: Tokenizer, text: string): TokenizedSample {
  const inputIds = tokenizer.encode(text, { addSpecialTokens: true });
  return { inputIds, labels: [...inputIds] };
}

export function tokenizeText2Text(tokenizer: Tokenizer, input: string, output: string, options: { addEos?: boolean; trainOnPrompt?: boolean } = {}): TokenizedSample {
  const inputIds = tokenizer.encode(input, { addSpecialTokens: false });
  const outputIds = tokenizer.encode(output, { addSpecialTokens: false });
  if (options.addEos ?? true) {
    if (tokenizer.eosTokenId === null) {
      throw new TemplateError(`text2text appends EOS after each output, but ${tokenizer.path} defines no eos_token; set one in tokenizer_config.json or pass --add_eos false`);
    }
    outputIds.push(tokenizer.eosTokenId);
  }
  const promptLabels = options.trainOnPrompt ? inputIds : inputIds.map(() => IGNORE_INDEX);
  return { inputIds: [...inputIds, ...outputIds], labels: [...promptLabels, ...outputIds] };
}

export interface ConversationResult {
  /** null when the conversation has no (user, assistant) pair: nothing to learn. */
  sample: TokenizedSample | null;
  droppedTrailingUser: boolean;
  warnings: string[];
}

export function tokenizeConversation(tokenizer: Tokenizer, template: ConversationTemplate, conversation: ConversationInstance, options: { trainOnPrompt?: boolean } = {}): ConversationResult {
  const encoded = encodeConversation(template, tokenizer, conversation);
  const sample = encoded.segments.length === 0 ? null : segmentsToSample(encoded.segments, options.trainOnPrompt ?? false);
  return { sample, droppedTrailingUser: encoded.droppedTrailingUser, warnings: encoded.warnings };
}
