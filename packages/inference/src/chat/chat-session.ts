/**
 * A conversation kept across turns: each send() adds the user's message, streams the answer
 * through the generator's chat template, and keeps the answer (also a partial one, when it was
 * stopped) as the assistant's turn.
 */
import type { GenerationOptions } from '../options/generation-options.js';
import type { Generator } from '../generator/create-generator.js';
import type { TextStream } from '../generator/text-stream.js';
import { GenerationError } from '../errors.js';
import type { ChatMessage } from './chat-prompt.js';

export interface ChatSession {
  /** Streams the answer to userText; `result` resolves once the answer is part of the history. */
  send(userText: string, options?: GenerationOptions): TextStream;
  /** Forgets every turn (the system prompt stays). */
  reset(): void;
  /** Sets the system prompt for the next turns (null removes it). */
  setSystem(text: string | null): void;
  readonly system: string | null;
  /** The conversation template the session was created with (undefined: the generator's default). */
  readonly conversationTemplate: string | undefined;
  /** The system message (when set), then the turns so far. */
  readonly messages: readonly ChatMessage[];
}

export interface ChatSessionOptions {
  system?: string;
  /** As Generator.chat: a preset name, `tokenizer` or `hf_auto`. @default the tokenizer's chat template, else `empty` */
  conversationTemplate?: string;
}

export function createChatSession(generator: Generator, options: ChatSessionOptions = {}): ChatSession {
  let system: string | null = options.system ?? null;
  let turns: ChatMessage[] = [];
  let busy = false;
  const messages = (): ChatMessage[] => [...(system !== null ? [{ role: 'system' as const, content: system }] : []), ...turns];

  return {
    send(userText, given = {}) {
      if (typeof userText !== 'string') throw new GenerationError(`ChatSession.send: the message is ${JSON.stringify(userText)}, expected a string`);
      if (busy) throw new GenerationError('ChatSession.send: the previous answer is still being generated; wait for its result (or stop reading it) first');
      const user: ChatMessage = { role: 'user', content: userText };
      const stream = generator.chat([...messages(), user], {
        ...given,
        ...(options.conversationTemplate !== undefined ? { conversationTemplate: options.conversationTemplate } : {}),
      });
      busy = true;
      const history = turns;
      const result = stream.result.then(
        (answer) => {
          busy = false;
          // A reset during the answer started a new conversation: the answer is not part of it.
          if (turns === history) turns = [...history, user, { role: 'assistant', content: answer.text }];
          return answer;
        },
        (error: unknown) => {
          busy = false;
          throw error;
        },
      );
      result.catch(() => {});
      return { [Symbol.asyncIterator]: () => stream[Symbol.asyncIterator](), result };
    },
    reset() {
      turns = [];
    },
    setSystem(text) {
      if (text !== null && typeof text !== 'string') throw new GenerationError(`ChatSession.setSystem: ${JSON.stringify(text)} is not a string or null`);
      system = text;
    },
    get system() {
      return system;
    },
    conversationTemplate: options.conversationTemplate,
    get messages() {
      return messages();
    },
  };
}
