/**
 * What the HTTP layer needs from a model: count a prompt's tokens (to refuse requests that
 * overflow the context before they queue), and generate with text deltas and cancellation.
 * Two implementations: generatorEngine runs an @lmflow/inference Generator in the calling
 * thread; workerEngine runs one in a worker thread, so the event loop that serves HTTP never
 * waits on model compute.
 */

/** A chat message after validation: OpenAI's "developer" role is already "system". */
export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** A completion prompt, or a conversation the model's template turns into one. */
export type PromptInput = { kind: 'text'; prompt: string } | { kind: 'chat'; messages: ChatMessage[] };

/** The generation options of @lmflow/inference that requests can set. */
export interface EngineGenerationOptions {
  maxNewTokens: number;
  doSample: boolean;
  temperature: number;
  topK: number;
  topP: number;
  minP: number;
  repetitionPenalty: number;
  stop: string[];
  seed?: number;
}

export type FinishReason = 'stop' | 'length' | 'eos' | 'abort';

export interface EngineResult {
  text: string;
  finishReason: FinishReason;
  usage: { promptTokens: number; completionTokens: number };
}

export interface GenerateCallbacks {
  /** Cancels the generation; the promise then resolves with finishReason 'abort'. */
  signal?: AbortSignal;
  /** Each piece of text as it is decoded (never a split UTF-8 character). */
  onText?: (text: string) => void;
}

export interface EngineInfo {
  /** The id /v1/models lists and requests name in "model". */
  modelId: string;
  /** Prompt plus generated tokens may not exceed this. */
  contextLength: number;
}

export interface Engine extends EngineInfo {
  countPromptTokens(input: PromptInput): Promise<number>;
  generate(input: PromptInput, options: EngineGenerationOptions, callbacks?: GenerateCallbacks): Promise<EngineResult>;
  /** Whether the engine can still serve (a worker that died cannot). */
  readonly healthy: boolean;
  /** Frees the model; pending generations are aborted. */
  close(): Promise<void>;
}

/**
 * An error the engine raises about the request itself (a conversation its template cannot
 * render): the server answers 400 naming `param`, not 500.
 */
export class EngineInputError extends Error {
  readonly param: string;
  constructor(message: string, param: string) {
    super(message);
    this.name = 'EngineInputError';
    this.param = param;
  }
}
