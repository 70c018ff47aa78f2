/**
 * An Engine whose model lives in a worker thread: the HTTP event loop only passes messages,
 * so /health, streaming writes and cancellations stay responsive while tokens compute.
 *
 * From the built package the worker runs dist/engine-worker.js. From TypeScript sources (tests,
 * `tsx`), it runs engine-worker.ts through tsx's loader with the workspace's "lmflow-source"
 * condition, so both use the same code the caller does.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { EngineInputError, type Engine, type EngineResult, type GenerateCallbacks } from './engine.js';
import type { FromWorker, ToWorker, WireError, WorkerEngineData } from './worker-protocol.js';

export interface WorkerEngineOptions {
  /** A model folder, or a Hugging Face id in the local cache. */
  modelNameOrPath: string;
  /** @default the folder's name for a local folder, else modelNameOrPath */
  modelId?: string;
  device?: string;
  dtype?: string;
  conversationTemplate?: string;
  /** A PEFT LoRA adapter folder to apply on top of the model; needs @lmflow/plugin-lora installed. */
  loraModelPath?: string;
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: unknown): void;
  onText?: (text: string) => void;
}

/** An error raised in the worker, under its original name (GenerationError, TemplateError, ...). */
export class EngineError extends Error {
  constructor(wire: WireError) {
    super(wire.message);
    this.name = wire.name;
  }
}

export async function workerEngine(options: WorkerEngineOptions): Promise<Engine> {
  const data: WorkerEngineData = {
    modelNameOrPath: options.modelNameOrPath,
    modelId: options.modelId ?? defaultModelId(options.modelNameOrPath),
    ...(options.device !== undefined && { device: options.device }),
    ...(options.dtype !== undefined && { dtype: options.dtype }),
    ...(options.conversationTemplate !== undefined && { conversationTemplate: options.conversationTemplate }),
    ...(options.loraModelPath !== undefined && { loraModelPath: options.loraModelPath }),
  };
  const worker = spawnWorker(data);
  const pending = new Map<number, Pending>();
  let nextId = 1;
  let healthy = true;
  let closing: Promise<void> | null = null;
  let failure: Error | null = null;

  const failAll = (error: Error) => {
    healthy = false;
    failure ??= error;
    for (const request of pending.values()) request.reject(error);
    pending.clear();
  };

  const info = await new Promise<{ modelId: string; contextLength: number }>((resolve, reject) => {
    const onMessage = (message: FromWorker) => {
      if (message.type === 'ready') {
        cleanup();
        resolve(message.info);
      } else if (message.type === 'load-failed') {
        cleanup();
        void worker.terminate();
        reject(new EngineError(message.error));
      }
    };
    const onError = (error: Error) => {
      cleanup();
      void worker.terminate();
      reject(error);
    };
    const onExit = (code: number) => {
      cleanup();
      reject(new Error(`the model worker exited with code ${code} while loading ${options.modelNameOrPath}`));
    };
    const cleanup = () => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
  });

  worker.on('message', (message: FromWorker) => {
    if (message.type === 'text') pending.get(message.id)?.onText?.(message.text);
    else if (message.type === 'counted') settle(message.id, (p) => p.resolve(message.tokens));
    else if (message.type === 'done') settle(message.id, (p) => p.resolve(message.result));
    else if (message.type === 'failed') settle(message.id, (p) => p.reject(fromWire(message.error)));
  });
  worker.on('error', (error) => failAll(new Error(`the model worker failed: ${error.message}`, { cause: error })));
  worker.on('exit', (code) => {
    if (!closing) failAll(new Error(`the model worker exited unexpectedly (code ${code})`));
  });

  function settle(id: number, how: (p: Pending) => void): void {
    const request = pending.get(id);
    if (!request) return;
    pending.delete(id);
    how(request);
  }

  function send<T>(message: ToWorker & { id: number }, onText?: (text: string) => void): Promise<T> {
    if (!healthy) return Promise.reject(failure ?? new Error('the engine is closed'));
    return new Promise<T>((resolve, reject) => {
      pending.set(message.id, { resolve: resolve as (value: unknown) => void, reject, ...(onText && { onText }) });
      worker.postMessage(message);
    });
  }

  return {
    modelId: info.modelId,
    contextLength: info.contextLength,
    get healthy() {
      return healthy;
    },
    countPromptTokens(input) {
      return send<number>({ type: 'count', id: nextId++, input });
    },
    async generate(input, generationOptions, callbacks: GenerateCallbacks = {}) {
      const id = nextId++;
      const { signal } = callbacks;
      if (signal?.aborted) return { text: '', finishReason: 'abort', usage: { promptTokens: 0, completionTokens: 0 } } satisfies EngineResult;
      const onAbort = () => worker.postMessage({ type: 'abort', id } satisfies ToWorker);
      signal?.addEventListener('abort', onAbort, { once: true });
      try {
        return await send<EngineResult>({ type: 'generate', id, input, options: generationOptions }, callbacks.onText);
      } finally {
        signal?.removeEventListener('abort', onAbort);
      }
    },
    close() {
      closing ??= (async () => {
        healthy = false;
        failure = new Error('the engine is closed');
        const closed = new Promise<void>((resolve) => {
          worker.on('message', (message: FromWorker) => message.type === 'closed' && resolve());
          worker.once('exit', () => resolve());
        });
        worker.postMessage({ type: 'close' } satisfies ToWorker);
        // A worker stuck in native code gets a few seconds, then is ended.
        const timer = setTimeout(() => void worker.terminate(), 5000);
        await closed;
        clearTimeout(timer);
        await worker.terminate();
        for (const request of pending.values()) request.reject(failure);
        pending.clear();
      })();
      return closing;
    },
  };
}

/** "stories260K" for ../models/stories260K; a hub id ("Qwen/Qwen3-0.6B") as given. */
export function defaultModelId(modelNameOrPath: string): string {
  return existsSync(modelNameOrPath) ? path.basename(path.resolve(modelNameOrPath)) : modelNameOrPath;
}

function fromWire(error: WireError): Error {
  return error.param !== undefined ? new EngineInputError(error.message, error.param) : new EngineError(error);
}

function spawnWorker(data: WorkerEngineData): Worker {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) return new Worker(new URL('./engine-worker.js', here), { workerData: data });
  // Running from sources: load the TypeScript entry through tsx, resolving workspace packages
  // to their sources as the caller does.
  const entry = new URL('./engine-worker.ts', here).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  const boot = `const { workerData } = require('node:worker_threads');
import(workerData.tsx).then(({ register }) => { register(); return import(workerData.entry); });`;
  return new Worker(boot, {
    eval: true,
    execArgv: ['--conditions=lmflow-source'],
    workerData: { ...data, tsx, entry },
  });
}
