/**
 * The per-instance steps shared by training, DPO and inspection, in the order they run:
 *   transformSample (hook) -> tokenize by type -> tokenizeSample (hook) -> truncate to block_size.
 * Problems name the file and instance; things worth knowing (a skipped conversation, a template
 * without a system role) are counted and reported once per dataset.
 */
import type { ConversationInstance, DatasetInstance, DatasetType, Runtime, SampleContext, TokenizedSample } from '@lmflow/core';
import type { Tokenizer } from '../tokenizer/load-tokenizer.js';
import { DatasetError } from '../dataset/dataset-error.js';
import { validateInstance } from '../dataset/validate-instance.js';
import { assertTemplateTrains, resolveConversationTemplate, type ConversationTemplate } from '../templates/resolve-template.js';
import { TemplateError } from '../templates/template-error.js';
import { tokenizeConversation, tokenizeText2Text, tokenizeTextOnly, type TokenizeOptions } from './tokenize-instance.js';
import { truncateSample } from '../batch/truncate.js';

export interface PipelineOptions extends TokenizeOptions {
  /** Its data hooks transformSample and tokenizeSample are applied. */
  runtime?: Runtime;
  /** Longest sample; longer ones keep their first blockSize tokens (LMFlow truncates the end). */
  blockSize?: number;
  /** Where notes about the data go (skipped conversations, ...). @default console.warn */
  onWarning?: (message: string) => void;
}

/** A tokenized instance: one sample, a preference pair, or scored candidates. */
export type TokenizedInstance =
  | { kind: 'sample'; sample: TokenizedSample }
  | { kind: 'pair'; chosen: TokenizedSample; rejected: TokenizedSample }
  | { kind: 'scored'; candidates: { sample: TokenizedSample; score: number }[] };

export class SamplePipeline {
  private readonly template: ConversationTemplate | undefined;
  private readonly notes = new Map<string, { count: number; first: { file: string; index: number } }>();

  constructor(
    readonly type: DatasetType,
    private readonly tokenizer: Tokenizer,
    private readonly options: PipelineOptions,
  ) {
    if (options.blockSize !== undefined && (!Number.isInteger(options.blockSize) || options.blockSize < 1)) {
      throw new TemplateError(`--block_size is ${options.blockSize}, expected a positive integer`);
    }
    if (type === 'conversation' || type === 'paired_conversation') {
      const requested = options.conversationTemplate;
      this.template = typeof requested === 'object' ? requested : resolveConversationTemplate(requested, tokenizer);
      assertTemplateTrains(this.template, options.trainOnPrompt ?? false);
    }
  }

  /** Runs one instance through the steps; null when there is nothing to learn from it (noted). */
  run(instance: DatasetInstance, origin: { file: string; index: number }): TokenizedInstance | null {
    const context: SampleContext = { type: this.type, origin };
    const hooks = this.options.runtime?.data.hooks;
    const transformed = hooks ? hooks.transformSample.call(instance, context) : instance;
    if (transformed !== instance) {
      try {
        validateInstance(this.type, transformed, origin.file, origin.index);
      } catch (error) {
        if (!(error instanceof DatasetError)) throw error;
        throw new DatasetError({ ...origin, ...(error.field ? { field: error.field } : {}) }, `after data.hooks.transformSample: ${error.detail}`, { cause: error });
      }
    }
    const finish = (sample: TokenizedSample): TokenizedSample => {
      const adjusted = hooks ? hooks.tokenizeSample.call(sample, context) : sample;
      if (adjusted.inputIds.length !== adjusted.labels.length) {
        throw new DatasetError(origin, `after tokenizeSample, inputIds has ${adjusted.inputIds.length} ids but labels has ${adjusted.labels.length}; they must have one label per id`);
      }
      return this.options.blockSize === undefined ? adjusted : truncateSample(adjusted, this.options.blockSize);
    };
    try {
      switch (this.type) {
        case 'text_only':
        case 'image_text':
          return { kind: 'sample', sample: finish(tokenizeTextOnly(this.tokenizer, (transformed as { text: string }).text)) };
        case 'text2text': {
          const { input, output } = transformed as { input: string; output: string };
          return { kind: 'sample', sample: finish(tokenizeText2Text(this.tokenizer, input, output, this.options)) };
        }
        case 'conversation': {
          const sample = this.conversation(transformed as ConversationInstance, origin);
          return sample && { kind: 'sample', sample: finish(sample) };
        }
        case 'paired_conversation': {
          const pair = transformed as { chosen: ConversationInstance; rejected: ConversationInstance };
          const chosen = this.conversation(pair.chosen, origin, 'chosen.');
          const rejected = this.conversation(pair.rejected, origin, 'rejected.');
          return chosen && rejected && { kind: 'pair', chosen: finish(chosen), rejected: finish(rejected) };
        }
        case 'text_to_scored_textlist': {
          const { input, output } = transformed as { input: string; output: { text: string; score: number }[] };
          return {
            kind: 'scored',
            candidates: output.map((candidate) => ({ sample: finish(tokenizeText2Text(this.tokenizer, input, candidate.text, this.options)), score: candidate.score })),
          };
        }
      }
    } catch (error) {
      if (error instanceof TemplateError) throw new DatasetError({ ...origin, ...(error.field ? { field: error.field } : {}) }, error.message, { cause: error });
      throw error;
    }
  }

  private conversation(conversation: ConversationInstance, origin: { file: string; index: number }, prefix = ''): TokenizedSample | null {
    // LMFlow skips a conversation that does not start with the user, with a warning (spec, rule 1);
    // one whose turns do not alternate would be paired wrongly, so it is skipped the same way.
    const roles = conversation.messages.map((m) => m.role);
    if (roles[0] !== 'user') {
      this.note('conversations that do not start with a user message were skipped (as LMFlow does)', origin);
      return null;
    }
    if (roles.some((role, i) => role !== (i % 2 === 0 ? 'user' : 'assistant'))) {
      this.note('conversations whose messages do not alternate user, assistant were skipped', origin);
      return null;
    }
    let result;
    try {
      result = tokenizeConversation(this.tokenizer, this.template!, conversation, this.options);
    } catch (error) {
      if (error instanceof TemplateError && error.field) throw new TemplateError(error.message, prefix + error.field);
      throw error;
    }
    for (const warning of result.warnings) this.note(warning, origin);
    if (result.droppedTrailingUser) this.note('a final user message without an assistant reply was left out (nothing to learn from it; LMFlow does the same)', origin);
    if (result.sample === null) {
      this.note('conversations without an assistant reply were skipped (nothing to learn from them)', origin);
      return null;
    }
    return result.sample;
  }

  note(message: string, origin: { file: string; index: number }): void {
    const entry = this.notes.get(message);
    if (entry) entry.count++;
    else this.notes.set(message, { count: 1, first: origin });
  }

  /** Reports what was noted, one line per kind of note. */
  flushNotes(): void {
    const warn = this.options.onWarning ?? ((message: string) => console.warn(message));
    for (const [message, { count, first }] of this.notes) {
      warn(`${message}: ${count} instance${count === 1 ? '' : 's'}, the first is ${first.file} instance ${first.index}`);
    }
    this.notes.clear();
  }
}
