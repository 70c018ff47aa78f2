/**
 * The engine worker: loads the model with @lmflow/inference in its own thread (the native
 * tensor addon loads per thread) and answers workerEngine's messages. Generations interleave
 * token by token, and an abort message reaches its generation between two tokens.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createRuntime, type Runtime } from '@lmflow/core';
import { loadGenerator, type LoadGeneratorOptions } from '@lmflow/inference';
import type { Engine } from './engine.js';
import { generatorEngine } from './generator-engine.js';
import { toWire, type FromWorker, type ToWorker, type WorkerEngineData } from './worker-protocol.js';

const port = parentPort!;
const data = workerData as WorkerEngineData;
const post = (message: FromWorker) => port.postMessage(message);
const running = new Map<number, AbortController>();
let engine: Engine;

try {
  const generator = await loadGenerator(data.modelNameOrPath, {
    ...(data.loraModelPath !== undefined && { runtime: await loraRuntime(data.loraModelPath) }),
    ...(data.device !== undefined && { device: data.device }),
    ...(data.dtype !== undefined && { dtype: data.dtype as LoadGeneratorOptions['dtype'] }),
  });
  engine = generatorEngine(generator, {
    modelId: data.modelId,
    ...(data.conversationTemplate !== undefined && { conversationTemplate: data.conversationTemplate }),
    dispose: () => generator.model.dispose(),
  });
  port.on('message', onMessage);
  post({ type: 'ready', info: { modelId: engine.modelId, contextLength: engine.contextLength } });
} catch (error) {
  post({ type: 'load-failed', error: toWire(error) });
}

/**
 * The LoRA plugin, imported only when an adapter is asked for: it is an optional peer, so an
 * inference-only install without adapters does not carry it.
 */
async function loraRuntime(adapterPath: string): Promise<Runtime> {
  let plugin: typeof import('@lmflow/plugin-lora');
  try {
    plugin = await import('@lmflow/plugin-lora');
  } catch (error) {
    throw new Error(`--lora_model_path ${adapterPath} needs the package @lmflow/plugin-lora; install it beside @lmflow/server (${(error as Error).message})`);
  }
  return createRuntime({ plugins: [plugin.lora({ adapterPath })] });
}

function onMessage(message: ToWorker): void {
  switch (message.type) {
    case 'count':
      engine.countPromptTokens(message.input).then(
        (tokens) => post({ type: 'counted', id: message.id, tokens }),
        (error: unknown) => post({ type: 'failed', id: message.id, error: toWire(error) }),
      );
      return;
    case 'generate': {
      const controller = new AbortController();
      running.set(message.id, controller);
      engine
        .generate(message.input, message.options, { signal: controller.signal, onText: (text) => post({ type: 'text', id: message.id, text }) })
        .then(
          (result) => post({ type: 'done', id: message.id, result }),
          (error: unknown) => post({ type: 'failed', id: message.id, error: toWire(error) }),
        )
        .finally(() => running.delete(message.id));
      return;
    }
    case 'abort':
      running.get(message.id)?.abort(new Error('cancelled by the server'));
      return;
    case 'close':
      engine.close().finally(() => {
        post({ type: 'closed' });
        port.close();
      });
      return;
  }
}
