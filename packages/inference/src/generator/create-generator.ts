/**
 * A Generator: a model and its tokenizer with generation as one call. Prompts are text
 * (tokenized with the tokenizer's special tokens, BOS for Llama) or token ids; an empty prompt
 * starts from BOS. Every call checks its options and prompt before any forward pass.
 */
import type { Runtime } from '@lmflow/core';
import type { CausalLM, Tokenizer } from '@lmflow/models';
import { buildChatPrompt, type ChatMessage } from '../chat/chat-prompt.js';
import { contextRoom, runDecode } from '../decode/decode-loop.js';
import type { GenerationResult, TextDelta } from '../decode/result.js';
import { GenerationError } from '../errors.js';
import type { GenerationConfig } from '../options/generation-config.js';
import { maxNewTokensFor, resolveGenerationOptions, type GenerationOptions, type ResolvedGenerationOptions } from '../options/generation-options.js';
import { createTextStream, type TextStream } from './text-stream.js';

export type Prompt = string | number[];

export interface ChatOptions extends GenerationOptions {
  /**
   * A preset name (llama2, chatml, ...), `tokenizer` or `hf_auto`. @default the tokenizer's
   * chat template when it has one, else `empty`
   */
  conversationTemplate?: string;
}

export interface Generator {
  readonly model: CausalLM;
  readonly tokenizer: Tokenizer;
  /** Most tokens (prompt + generated) a sequence may hold: config.json max_position_embeddings. */
  readonly contextLength: number;
  readonly generationConfig: GenerationConfig;
  readonly runtime: Runtime | null;
  generate(prompt: Prompt, options?: GenerationOptions): Promise<GenerationResult>;
  /** Text as it is generated; `result` resolves when generation ends. Leaving the loop early aborts. */
  stream(prompt: Prompt, options?: GenerationOptions): TextStream;
  /** Several prompts decoded together (left-padded); each row as generate() would give it. */
  generateBatch(prompts: Prompt[], options?: GenerationOptions): Promise<GenerationResult[]>;
  /**
   * The assistant's answer to a conversation, streamed. The template's end-of-turn token (or
   * text) ends the answer besides the usual EOS ids.
   */
  chat(messages: ChatMessage[], options?: ChatOptions): TextStream;
  /** Prompt ids of a conversation, ending with the start of the assistant's turn. */
  applyChatTemplate(messages: ChatMessage[], options?: { conversationTemplate?: string }): number[];
  /** Prompt ids as generation uses them: text tokenized with special tokens, [] as [BOS]. */
  encodePrompt(prompt: Prompt): number[];
}

export interface CreateGeneratorOptions {
  /** Whose decoder hooks generation calls. @default the runtime the model was loaded with */
  runtime?: Runtime;
  /** Defaults of generation (generation_config.json). @default {} */
  generationConfig?: GenerationConfig;
}

export function createGenerator(model: CausalLM, tokenizer: Tokenizer, options: CreateGeneratorOptions = {}): Generator {
  const runtime = options.runtime ?? model.runtime ?? null;
  const generationConfig = options.generationConfig ?? {};
  const contextLength = model.maxPositions;

  const resolve = (given: GenerationOptions | undefined, caller: string) =>
    resolveGenerationOptions(given, { generationConfig, modelConfig: model.config, tokenizer, vocabSize: model.vocabSize, caller });

  const encodePrompt = (prompt: Prompt, caller = 'generate'): number[] => {
    let ids: number[];
    if (typeof prompt === 'string') {
      ids = tokenizer.encode(prompt);
    } else if (Array.isArray(prompt)) {
      prompt.forEach((id, i) => {
        if (!Number.isSafeInteger(id) || id < 0 || id >= model.vocabSize) {
          throw new GenerationError(`${caller}: prompt[${i}] is ${JSON.stringify(id)}, expected a token id in [0, ${model.vocabSize})`);
        }
      });
      ids = [...prompt];
    } else {
      throw new GenerationError(`${caller}: the prompt is ${JSON.stringify(prompt)}, expected a string or a list of token ids`);
    }
    if (ids.length > 0) return ids;
    if (tokenizer.bosTokenId === null) {
      throw new GenerationError(`${caller}: the prompt is empty and the tokenizer (${tokenizer.path}) has no BOS token to start from; give a prompt`);
    }
    return [tokenizer.bosTokenId];
  };

  const decode = (prompts: number[][], resolved: ResolvedGenerationOptions, caller: string, textContext: 'prompt' | 'none', extra: { signal?: AbortSignal; onDelta?: (row: number, delta: TextDelta) => void } = {}) =>
    runDecode({ model, tokenizer, runtime, prompts, options: resolved, contextLength, textContext, caller, ...extra });

  const streamIds = (ids: number[], resolved: ResolvedGenerationOptions, caller: string, textContext: 'prompt' | 'none'): TextStream => {
    // Checked here so that the caller learns before any text is streamed (a server answers 400).
    contextRoom(ids.length, contextLength, caller);
    maxNewTokensFor(resolved, ids.length, caller);
    return createTextStream(async (push, signal) => {
      const [result] = await decode([ids], resolved, caller, textContext, { signal, onDelta: (_row, delta) => push(delta) });
      return result!;
    });
  };

  const chatPrompt = (messages: ChatMessage[], conversationTemplate: string | undefined) => buildChatPrompt(tokenizer, messages, conversationTemplate);

  return {
    model,
    tokenizer,
    contextLength,
    generationConfig,
    runtime,
    encodePrompt: (prompt) => encodePrompt(prompt),
    async generate(prompt, given) {
      const resolved = resolve(given, 'generate');
      const [result] = await decode([encodePrompt(prompt)], resolved, 'generate', 'prompt');
      return result!;
    },
    stream(prompt, given) {
      const resolved = resolve(given, 'stream');
      return streamIds(encodePrompt(prompt, 'stream'), resolved, 'stream', 'prompt');
    },
    async generateBatch(prompts, given) {
      if (!Array.isArray(prompts) || prompts.length === 0) throw new GenerationError(`generateBatch: prompts must be a non-empty list, got ${JSON.stringify(prompts)}`);
      const resolved = resolve(given, 'generateBatch');
      const ids = prompts.map((prompt, i) => encodePrompt(prompt, `generateBatch: prompts[${i}]`));
      return decode(ids, resolved, 'generateBatch', 'prompt');
    },
    chat(messages, given = {}) {
      const { conversationTemplate, ...rest } = given;
      const prompt = chatPrompt(messages, conversationTemplate);
      const resolved = resolve(rest, 'chat');
      // The template's end of turn ends the answer too (a chat model's EOS is often another token).
      const withTurnEnd: ResolvedGenerationOptions = {
        ...resolved,
        eosTokenIds: [...new Set([...resolved.eosTokenIds, ...prompt.endOfTurn.tokenIds])],
        stop: [...new Set([...resolved.stop, ...prompt.endOfTurn.stop])],
      };
      return streamIds(prompt.ids, withTurnEnd, 'chat', 'none');
    },
    applyChatTemplate: (messages, given = {}) => chatPrompt(messages, given.conversationTemplate).ids,
  };
}
