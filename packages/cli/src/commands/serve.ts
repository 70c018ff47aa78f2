/**
 * `lmflow serve`: the OpenAI-compatible server of @lmflow/server with its web chat page, the
 * model in a worker thread. SIGTERM or Ctrl-C stops accepting requests, lets the running ones
 * finish, then exits 0; a second signal cancels what still runs.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { defineOptions } from '@lmflow/core';
import { CONVERSATION_TEMPLATE_NAMES } from '@lmflow/data';
import { createServer, DEFAULT_HOST, DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_CONCURRENCY, DEFAULT_MAX_QUEUE, DEFAULT_PORT, workerEngine } from '@lmflow/server';
import { loraAdapterOptions } from '@lmflow/plugin-lora';
import { defineCommand } from '../command.js';
import { checkDevice } from '../device-option.js';

export const serveOptions = defineOptions('Server', {
  model_name_or_path: {
    type: 'string',
    required: true,
    description: 'A local Hugging Face model folder (config.json, *.safetensors, tokenizer.json), or a hub id fetched into the Hugging Face cache. /v1/models lists it by its folder name (a hub id as given).',
  },
  host: {
    type: 'string',
    default: DEFAULT_HOST,
    description: 'Address to listen on. The default serves this machine only; 0.0.0.0 (or ::) serves every network interface, so set --api_key too.',
  },
  port: { type: 'integer', default: DEFAULT_PORT, min: 0, max: 65535, description: 'Port to listen on; 0 picks a free one (the address is printed).' },
  api_key: {
    type: 'string',
    description: 'Require "Authorization: Bearer <key>" on /v1/ requests (401 otherwise). Default: the LMFLOW_API_KEY environment variable (which keeps the key out of the process list), else no key.',
    validate: (value) => (value.trim() === '' ? 'a non-empty key' : undefined),
  },
  max_concurrency: {
    type: 'integer',
    default: DEFAULT_MAX_CONCURRENCY,
    min: 1,
    description: 'Generations that run at once; they take turns token by token, so more means a shorter wait for the first token and a slower stream each.',
  },
  max_queue: { type: 'integer', default: DEFAULT_MAX_QUEUE, min: 0, description: 'Requests that may wait for a slot; beyond it, requests are answered 429 (retry later).' },
  max_body_bytes: { type: 'integer', default: DEFAULT_MAX_BODY_BYTES, min: 1024, description: 'Largest request body accepted, in bytes; larger ones are answered 413.' },
  conversation_template: {
    type: 'enum',
    values: CONVERSATION_TEMPLATE_NAMES as readonly string[],
    description: "How chat messages become the prompt: an LMFlow preset, `tokenizer` (the model's chat_template) or `hf_auto`. Default: the model's chat_template when it has one, else `empty`.",
  },
  torch_dtype: {
    type: 'enum',
    values: ['auto', 'float32', 'bfloat16', 'float16'] as const,
    default: 'float32',
    description: 'Parameter dtype. bfloat16 halves memory and the bytes read per token; auto: as the checkpoint is stored.',
  },
  device: {
    type: 'string',
    // Checked here, before the model worker starts, with the same rule the worker applies.
    validate: checkDevice,
    description: 'Where the model runs: cpu (native), reference (float64, slow: for checks) or cuda:N. Default: LMFLOW_DEVICE, else cpu.',
  },
});

export const serveCommand = defineCommand({
  name: 'serve',
  summary: 'Serve a model over an OpenAI-compatible HTTP API, with a web chat page.',
  description:
    'Serves /v1/models, /v1/completions and /v1/chat/completions (streaming as server-sent events) in the OpenAI format, so the official openai clients and tools built on them work unchanged, plus GET /health and a chat page at /. Every request is validated (400 naming the field); at most --max_concurrency generations run and --max_queue wait (then 429). The model runs in a worker thread. SIGTERM or Ctrl-C finishes running requests, then exits; a second one cancels them.',
  examples: [
    'lmflow serve --model_name_or_path models/stories260K',
    'lmflow serve --model_name_or_path Qwen/Qwen3-0.6B --host 0.0.0.0 --port 8080 --api_key "$KEY" --max_concurrency 8',
  ],
  options: [serveOptions, loraAdapterOptions],
  async run(config, { io, log }) {
    // A relative folder is relative to the working directory the CLI was given; anything else is a hub id.
    const local = path.resolve(io.cwd, config.model_name_or_path);
    const modelNameOrPath = existsSync(local) ? local : config.model_name_or_path;
    const apiKey = config.api_key ?? (io.env.LMFLOW_API_KEY || undefined);

    log(`loading ${config.model_name_or_path} ...`);
    const engine = await workerEngine({
      modelNameOrPath,
      modelId: existsSync(local) ? path.basename(local) : config.model_name_or_path,
      dtype: config.torch_dtype,
      ...(config.device !== undefined && { device: config.device }),
      ...(config.conversation_template !== undefined && { conversationTemplate: config.conversation_template }),
      ...(config.lora_model_path !== undefined && { loraModelPath: config.lora_model_path }),
    });
    const server = createServer({
      engine,
      host: config.host,
      port: config.port,
      ...(apiKey !== undefined && { apiKey }),
      maxConcurrency: config.max_concurrency,
      maxQueue: config.max_queue,
      maxBodyBytes: config.max_body_bytes,
      log,
    });
    let url: string;
    try {
      ({ url } = await server.listen());
    } catch (error) {
      await engine.close();
      throw error;
    }
    if (apiKey === undefined && !isLoopback(config.host)) {
      log(`warning: listening on ${config.host} without --api_key: anyone who can reach this machine can use the model`);
    }
    log(`serving ${engine.modelId} (context ${engine.contextLength} tokens) at ${url}`);
    log(`  OpenAI API: ${url}/v1   chat page: ${url}/   health: ${url}/health`);
    log('press Ctrl-C to stop');

    await new Promise<void>((resolve) => {
      let signals = 0;
      const onSignal = (signal: NodeJS.Signals) => {
        signals += 1;
        if (signals === 1) {
          const { running, waiting } = server.load;
          log(`${signal}: stopping; finishing ${running} running and ${waiting} queued requests (send it again to cancel them)`);
          void server.close().then(resolve);
        } else {
          log(`${signal}: cancelling the running requests`);
          void server.close({ abort: true });
        }
      };
      process.on('SIGTERM', onSignal);
      process.on('SIGINT', onSignal);
      // Let the listeners go once the server has closed, however it closed.
      server.httpServer.once('close', () => {
        process.off('SIGTERM', onSignal);
        process.off('SIGINT', onSignal);
      });
    });
    await engine.close();
    log('stopped');
  },
});

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}
