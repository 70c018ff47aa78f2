/**
 * The response objects of OpenAI's API, field for field: completions and chat completions,
 * whole and as stream chunks, and usage counts.
 */
import { randomUUID } from 'node:crypto';
import type { EngineResult, FinishReason } from '../engine/engine.js';

export type OpenAiFinishReason = 'stop' | 'length';

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

/** EOS and stop strings are both "stop" to OpenAI; "length" is max_tokens reached. */
export function finishReasonOf(reason: FinishReason): OpenAiFinishReason {
  return reason === 'length' ? 'length' : 'stop';
}

export function usageOf(result: EngineResult): Usage {
  const { promptTokens, completionTokens } = result.usage;
  return { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
}

/** The id and creation time every chunk of one response shares. */
export interface ResponseMeta {
  id: string;
  created: number;
  model: string;
}

export function responseMeta(kind: 'chat' | 'text', model: string): ResponseMeta {
  const id = `${kind === 'chat' ? 'chatcmpl' : 'cmpl'}-${randomUUID().replaceAll('-', '')}`;
  return { id, created: Math.floor(Date.now() / 1000), model };
}

export function completionResponse(meta: ResponseMeta, result: EngineResult) {
  return {
    ...meta,
    object: 'text_completion' as const,
    choices: [{ index: 0, text: result.text, logprobs: null, finish_reason: finishReasonOf(result.finishReason) }],
    usage: usageOf(result),
  };
}

export function completionChunk(meta: ResponseMeta, text: string, finishReason: OpenAiFinishReason | null, includeUsage: boolean) {
  return {
    ...meta,
    object: 'text_completion' as const,
    choices: [{ index: 0, text, logprobs: null, finish_reason: finishReason }],
    ...(includeUsage && { usage: null }),
  };
}

export function chatResponse(meta: ResponseMeta, result: EngineResult) {
  return {
    ...meta,
    object: 'chat.completion' as const,
    choices: [{ index: 0, message: { role: 'assistant' as const, content: result.text, refusal: null }, logprobs: null, finish_reason: finishReasonOf(result.finishReason) }],
    usage: usageOf(result),
  };
}

export function chatChunk(meta: ResponseMeta, delta: { role?: 'assistant'; content?: string }, finishReason: OpenAiFinishReason | null, includeUsage: boolean) {
  return {
    ...meta,
    object: 'chat.completion.chunk' as const,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
    // With include_usage, every chunk carries "usage": null until the last one holds the counts.
    ...(includeUsage && { usage: null }),
  };
}

/** The extra last chunk of stream_options.include_usage: no choices, the counts. */
export function usageChunk(meta: ResponseMeta, kind: 'chat' | 'text', result: EngineResult) {
  return { ...meta, object: kind === 'chat' ? ('chat.completion.chunk' as const) : ('text_completion' as const), choices: [], usage: usageOf(result) };
}
