/**
 * @lmflow/server: an OpenAI-compatible HTTP API (/v1/models, /v1/completions,
 * /v1/chat/completions with server-sent-event streaming) and a web chat page, serving a model
 * that runs in a worker thread. `lmflow serve` is this package on the command line.
 */
export {
  createServer,
  DEFAULT_HOST,
  DEFAULT_PORT,
  DEFAULT_MAX_CONCURRENCY,
  DEFAULT_MAX_QUEUE,
  DEFAULT_MAX_BODY_BYTES,
  type ServerOptions,
  type LmflowServer,
} from './server.js';
export { workerEngine, defaultModelId, EngineError, type WorkerEngineOptions } from './engine/worker-engine.js';
export { generatorEngine, type GeneratorLike, type GeneratorEngineOptions } from './engine/generator-engine.js';
export {
  EngineInputError,
  type Engine,
  type EngineInfo,
  type EngineResult,
  type EngineGenerationOptions,
  type GenerateCallbacks,
  type PromptInput,
  type ChatMessage,
  type FinishReason,
} from './engine/engine.js';
export { ApiError, type ApiErrorBody, type ApiErrorType } from './http/api-error.js';
export { DEFAULT_COMPLETION_MAX_TOKENS } from './api/completion-request.js';
export { CONTENT_SECURITY_POLICY } from './http/static-files.js';
