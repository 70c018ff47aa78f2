/**
 * An Engine over an @lmflow/inference Generator in the calling thread. The worker thread runs
 * its model through this too; use it directly to serve a generator you built yourself (with
 * plugins, a LoRA adapter, ...) when blocking the event loop while a token computes is fine.
 *
 * Several generations may run at once: each yields to the event loop after every token, so
 * they take turns token by token, and messages (a cancellation) are handled in between.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Generator } from '@lmflow/inference';
import { EngineInputError, type Engine, type PromptInput } from './engine.js';

/** The parts of @lmflow/inference's Generator an engine uses. */
export type GeneratorLike = Pick<Generator, 'contextLength' | 'encodePrompt' | 'stream' | 'chat' | 'applyChatTemplate'>;

export interface GeneratorEngineOptions {
  /** The id /v1/models lists. */
  modelId: string;
  /** LMFlow preset name, `tokenizer` or `hf_auto` for chat requests. @default the tokenizer's chat template, else `empty` */
  conversationTemplate?: string;
  /** Called to free the generator's model on close. */
  dispose?: () => void | Promise<void>;
}

export function generatorEngine(generator: GeneratorLike, options: GeneratorEngineOptions): Engine {
  const running = new Set<AbortController>();
  const templateOption = options.conversationTemplate !== undefined ? { conversationTemplate: options.conversationTemplate } : {};
  let closed = false;

  return {
    modelId: options.modelId,
    contextLength: generator.contextLength,
    get healthy() {
      return !closed;
    },
    async countPromptTokens(input) {
      return inputErrors(input, () =>
        input.kind === 'text' ? generator.encodePrompt(input.prompt).length : generator.applyChatTemplate(input.messages, templateOption).length,
      );
    },
    async generate(input, generationOptions, callbacks = {}) {
      if (closed) throw new Error('the engine is closed');
      // One controller joins the caller's signal and close().
      const controller = new AbortController();
      const onAbort = () => controller.abort(callbacks.signal?.reason);
      if (callbacks.signal?.aborted) controller.abort(callbacks.signal.reason);
      else callbacks.signal?.addEventListener('abort', onAbort, { once: true });
      running.add(controller);
      try {
        const stream = inputErrors(input, () =>
          input.kind === 'text'
            ? generator.stream(input.prompt, { ...generationOptions, signal: controller.signal })
            : generator.chat(input.messages, { ...generationOptions, ...templateOption, signal: controller.signal }),
        );
        for await (const delta of stream) {
          if (delta.text !== '') callbacks.onText?.(delta.text);
          // Let other generations, and the message that may cancel this one, have their turn.
          await nextTurn();
        }
        const { text, finishReason, usage } = await stream.result;
        return { text, finishReason, usage: { promptTokens: usage.promptTokens, completionTokens: usage.completionTokens } };
      } finally {
        running.delete(controller);
        callbacks.signal?.removeEventListener('abort', onAbort);
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const controller of running) controller.abort(new Error('the engine is closing'));
      await options.dispose?.();
    },
  };
}

/**
 * The generator checks a prompt before it computes anything: a conversation its template
 * cannot render (roles out of order, a system message in the middle) or a prompt longer than
 * the context is the request's fault, a 400 naming the prompt or the messages.
 */
function inputErrors<T>(input: PromptInput, fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    const name = (error as Error)?.name;
    if (name === 'TemplateError' || name === 'GenerationError') {
      throw new EngineInputError((error as Error).message, input.kind === 'chat' ? 'messages' : 'prompt');
    }
    throw error;
  }
}
