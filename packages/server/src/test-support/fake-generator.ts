/**
 * A generator with the shape of @lmflow/inference's, for tests that need control over time:
 * each "token" is one word of a fixed script, produced every `delayMs`, and every call,
 * option and cancellation is recorded so a test can assert what the engine saw.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ChatMessage, GenerationOptions, GenerationResult, Prompt, TextStream } from '@lmflow/inference';
import type { GeneratorLike } from '../engine/generator-engine.js';

export interface FakeCall {
  kind: 'text' | 'chat';
  prompt: string;
  options: Omit<GenerationOptions, 'signal'> & { conversationTemplate?: string };
  /** Set once the generation ends. */
  finishReason?: GenerationResult['finishReason'];
  tokensGenerated: number;
}

export interface FakeGenerator extends GeneratorLike {
  readonly calls: FakeCall[];
  /** Generations running now. */
  readonly active: number;
  /** Most generations that ran at once. */
  readonly peakActive: number;
}

export const FAKE_WORDS = ['Once', ' upon', ' a', ' time', ' there', ' was', ' a', ' fox', '.', ' The', ' end', '.'];

/** Tokens of a text: one per word, plus BOS. */
export function fakeTokenCount(text: string): number {
  return 1 + (text.match(/\S+/g)?.length ?? 0);
}

/** The prompt a chat renders to: "role: content" lines, then "assistant:". */
export function fakeChatPrompt(messages: readonly ChatMessage[]): string {
  return `${messages.map((m) => `${m.role}: ${m.content}`).join('\n')}\nassistant:`;
}

/** The text the fake generates for `maxNewTokens` words (before stop strings). */
export function fakeText(maxNewTokens: number): string {
  return Array.from({ length: maxNewTokens }, (_, i) => FAKE_WORDS[i % FAKE_WORDS.length]).join('');
}

const ids = (text: string) => Array.from({ length: fakeTokenCount(text) }, (_, i) => i);

export function createFakeGenerator(options: { delayMs?: number; contextLength?: number } = {}): FakeGenerator {
  const delayMs = options.delayMs ?? 0;
  const calls: FakeCall[] = [];
  let active = 0;
  let peakActive = 0;

  function start(kind: 'text' | 'chat', prompt: string, opts: GenerationOptions & { conversationTemplate?: string } = {}): TextStream {
    const { signal, ...recorded } = opts;
    const call: FakeCall = { kind, prompt, options: recorded, tokensGenerated: 0 };
    calls.push(call);
    const maxNewTokens = opts.maxNewTokens ?? 16;
    const stop = opts.stop ?? [];
    let resolveResult!: (r: GenerationResult) => void;
    const result = new Promise<GenerationResult>((resolve) => (resolveResult = resolve));
    async function* words() {
      active += 1;
      peakActive = Math.max(peakActive, active);
      let text = '';
      let finishReason: GenerationResult['finishReason'] = 'length';
      try {
        for (let i = 0; i < maxNewTokens; i++) {
          if (delayMs > 0) await sleep(delayMs);
          if (signal?.aborted) {
            finishReason = 'abort';
            break;
          }
          const word = FAKE_WORDS[i % FAKE_WORDS.length]!;
          call.tokensGenerated += 1;
          const stopAt = stop.map((s) => (text + word).indexOf(s)).filter((at) => at !== -1);
          if (stopAt.length > 0) {
            const cut = (text + word).slice(0, Math.min(...stopAt));
            if (cut.length > text.length) yield { text: cut.slice(text.length), tokenIds: [i] };
            text = cut;
            finishReason = 'stop';
            break;
          }
          text += word;
          yield { text: word, tokenIds: [i] };
        }
      } finally {
        active -= 1;
        call.finishReason = finishReason;
        const tokenIds = Array.from({ length: call.tokensGenerated }, (_, i) => i);
        resolveResult({ text, tokenIds, finishReason, usage: { promptTokens: fakeTokenCount(prompt), completionTokens: call.tokensGenerated } });
      }
    }
    const iterable = words();
    return { [Symbol.asyncIterator]: () => iterable, result };
  }

  const promptText = (prompt: Prompt) => (typeof prompt === 'string' ? prompt : prompt.join(' '));
  return {
    contextLength: options.contextLength ?? 64,
    encodePrompt: (prompt) => ids(promptText(prompt)),
    stream: (prompt, opts) => start('text', promptText(prompt), opts),
    chat: (messages, opts) => start('chat', fakeChatPrompt(messages), opts),
    applyChatTemplate: (messages) => ids(fakeChatPrompt(messages)),
    calls,
    get active() {
      return active;
    },
    get peakActive() {
      return peakActive;
    },
  };
}
