/**
 * POST /v1/completions and /v1/chat/completions: validate, check the context, wait for a slot,
 * then generate, as one JSON response or as server-sent events. A client that goes away at
 * any point (queued or streaming) aborts its generation, which frees its slot.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { EngineInputError, type Engine, type EngineGenerationOptions, type EngineResult, type PromptInput } from '../engine/engine.js';
import { ApiError, invalidRequest } from '../http/api-error.js';
import { readJsonBody } from '../http/read-json-body.js';
import { sendJson } from '../http/send.js';
import { startSse } from '../http/sse.js';
import type { Admission } from '../scheduler/admission.js';
import { parseChatRequest } from './chat-request.js';
import { parseCompletionRequest } from './completion-request.js';
import type { Body } from './fields.js';
import { chatChunk, chatResponse, completionChunk, completionResponse, finishReasonOf, responseMeta, usageChunk } from './responses.js';
import type { SamplingParams } from './sampling.js';

export interface GenerationRouteContext {
  engine: Engine;
  admission: Admission;
  maxBodyBytes: number;
  /** Aborted when the server stops for good (a second SIGTERM): running generations end. */
  shutdownSignal: AbortSignal;
  /** Called with an error that ended a stream after its headers were sent. */
  onStreamError?: (error: unknown) => void;
  /** Called once per finished request with a summary for the log. */
  onFinished?: (summary: { kind: 'chat' | 'text'; promptTokens: number; completionTokens: number; finishReason: string; ms: number }) => void;
}

interface Parsed {
  model: string;
  input: PromptInput;
  stream: boolean;
  includeUsage: boolean;
  sampling: SamplingParams;
  promptParam: string;
}

export async function handleGeneration(kind: 'chat' | 'text', ctx: GenerationRouteContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const started = Date.now();
  const body = (await readJsonBody(req, ctx.maxBodyBytes)) as Body;
  const request = parse(kind, body);
  const { engine } = ctx;
  if (request.model !== engine.modelId) {
    throw new ApiError(404, 'invalid_request_error', `The model "${request.model}" does not exist; this server serves "${engine.modelId}" (GET /v1/models)`, {
      param: 'model',
      code: 'model_not_found',
    });
  }

  const promptTokens = await countTokens(engine, request);
  const options = generationOptions(request.sampling, promptTokens, engine.contextLength, request.promptParam);

  // The client leaving (or the server shutting down for good) cancels the request wherever
  // it is: in the queue, or generating.
  const abort = new AbortController();
  let clientGone = false;
  const onClose = () => {
    if (res.writableFinished) return;
    clientGone = true;
    abort.abort(new Error('the client closed the connection'));
  };
  res.on('close', onClose);
  const onShutdown = () => abort.abort(new Error('the server is shutting down'));
  ctx.shutdownSignal.addEventListener('abort', onShutdown, { once: true });
  try {
    let release;
    try {
      release = await ctx.admission.acquire(abort.signal);
    } catch (error) {
      if (clientGone) return;
      // Still queued when the server stopped for good: answered 503 like a running request.
      if (abort.signal.aborted) throw shuttingDown();
      throw error;
    }
    try {
      const result = request.stream ? await stream(kind, ctx, request, options, abort.signal, res) : await whole(kind, ctx, request, options, abort.signal, res);
      if (result) {
        ctx.onFinished?.({ kind, promptTokens: result.usage.promptTokens, completionTokens: result.usage.completionTokens, finishReason: result.finishReason, ms: Date.now() - started });
      }
    } finally {
      release();
    }
  } finally {
    res.off('close', onClose);
    ctx.shutdownSignal.removeEventListener('abort', onShutdown);
    // A client that went away gets no answer; its socket may still be half open (the client
    // ended its side), and would otherwise wait for a response that never comes, holding up
    // server.close().
    if (clientGone && !res.writableEnded) res.destroy();
  }
}

function shuttingDown(): ApiError {
  return new ApiError(503, 'service_unavailable', 'the generation was stopped because the server is shutting down', { code: 'shutting_down' });
}

function parse(kind: 'chat' | 'text', body: Body): Parsed {
  if (kind === 'chat') {
    const r = parseChatRequest(body);
    return { model: r.model, input: { kind: 'chat', messages: r.messages }, stream: r.stream, includeUsage: r.includeUsage, sampling: r.sampling, promptParam: 'messages' };
  }
  const r = parseCompletionRequest(body);
  return { model: r.model, input: { kind: 'text', prompt: r.prompt }, stream: r.stream, includeUsage: r.includeUsage, sampling: r.sampling, promptParam: 'prompt' };
}

async function countTokens(engine: Engine, request: Parsed): Promise<number> {
  try {
    return await engine.countPromptTokens(request.input);
  } catch (error) {
    if (error instanceof EngineInputError) throw invalidRequest(error.message, error.param, 'invalid_prompt');
    throw error;
  }
}

/** OpenAI's sampling parameters as the engine's options, after the context-length check. */
function generationOptions(sampling: SamplingParams, promptTokens: number, contextLength: number, promptParam: string): EngineGenerationOptions {
  const room = contextLength - promptTokens;
  if (room < 1) {
    throw invalidRequest(
      `This model's maximum context length is ${contextLength} tokens, and the ${promptParam} alone is ${promptTokens} tokens, which leaves no room for a completion; shorten the ${promptParam}`,
      promptParam,
      'context_length_exceeded',
    );
  }
  const maxNewTokens = sampling.maxTokens ?? room;
  if (maxNewTokens > room) {
    throw invalidRequest(
      `This model's maximum context length is ${contextLength} tokens. However, you requested ${promptTokens + maxNewTokens} tokens ` +
        `(${promptTokens} in the ${promptParam}, ${maxNewTokens} in the completion); lower ${sampling.maxTokensParam} to at most ${room} or shorten the ${promptParam}`,
      sampling.maxTokensParam,
      'context_length_exceeded',
    );
  }
  return {
    maxNewTokens,
    doSample: sampling.temperature > 0,
    temperature: sampling.temperature > 0 ? sampling.temperature : 1,
    topK: sampling.topK,
    topP: sampling.topP,
    minP: sampling.minP,
    repetitionPenalty: sampling.repetitionPenalty,
    stop: sampling.stop,
    ...(sampling.seed !== undefined && { seed: sampling.seed }),
  };
}

async function whole(kind: 'chat' | 'text', ctx: GenerationRouteContext, request: Parsed, options: EngineGenerationOptions, signal: AbortSignal, res: ServerResponse): Promise<EngineResult | null> {
  const result = await ctx.engine.generate(request.input, options, { signal });
  if (result.finishReason === 'abort') {
    if (!res.destroyed && !res.headersSent) sendJson(res, 503, shuttingDown().toJSON());
    return result;
  }
  const meta = responseMeta(kind, request.model);
  sendJson(res, 200, kind === 'chat' ? chatResponse(meta, result) : completionResponse(meta, result));
  return result;
}

async function stream(kind: 'chat' | 'text', ctx: GenerationRouteContext, request: Parsed, options: EngineGenerationOptions, signal: AbortSignal, res: ServerResponse): Promise<EngineResult | null> {
  const meta = responseMeta(kind, request.model);
  const sse = startSse(res);
  const { includeUsage } = request;
  if (kind === 'chat') sse.send(chatChunk(meta, { role: 'assistant', content: '' }, null, includeUsage));
  let result: EngineResult;
  try {
    result = await ctx.engine.generate(request.input, options, {
      signal,
      onText(text) {
        sse.send(kind === 'chat' ? chatChunk(meta, { content: text }, null, includeUsage) : completionChunk(meta, text, null, includeUsage));
      },
    });
  } catch (error) {
    // Headers are sent: the error travels as a last event, as OpenAI does mid-stream.
    ctx.onStreamError?.(error);
    const apiError = error instanceof ApiError ? error : new ApiError(500, 'server_error', `generation failed: ${(error as Error).message}`);
    sse.send(apiError.toJSON());
    sse.done();
    return null;
  }
  if (result.finishReason === 'abort') {
    // The client left (nothing to write), or the server stopped the generation.
    if (!res.destroyed) {
      sse.send(shuttingDown().toJSON());
      sse.done();
    }
    return result;
  }
  const finish = finishReasonOf(result.finishReason);
  sse.send(kind === 'chat' ? chatChunk(meta, {}, finish, includeUsage) : completionChunk(meta, '', finish, includeUsage));
  if (includeUsage) sse.send(usageChunk(meta, kind, result));
  sse.done();
  return result;
}
