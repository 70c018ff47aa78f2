/**
 * @lmflow/inference: text generation with a KV cache (greedy, temperature, top-k, top-p, min-p,
 * repetition penalty, stop strings, EOS from generation_config.json), streaming text deltas that
 * never split a character, batches of prompts of different lengths, chat through the model's
 * template, and the decoder hooks (processLogits, proposeTokens, ...) for plugins.
 */
export { createGenerator, type Generator, type CreateGeneratorOptions, type ChatOptions, type Prompt } from './generator/create-generator.js';
export { loadGenerator, type LoadGeneratorOptions } from './generator/load-generator.js';
export type { TextStream } from './generator/text-stream.js';
export type { GenerationResult, TextDelta, FinishReason } from './decode/result.js';
export { createChatSession, type ChatSession, type ChatSessionOptions } from './chat/chat-session.js';
export { buildChatPrompt, type ChatMessage, type ChatRole, type ChatPrompt } from './chat/chat-prompt.js';

export {
  resolveGenerationOptions,
  DEFAULT_MAX_NEW_TOKENS,
  DEFAULT_TOP_K,
  type GenerationOptions,
  type ResolvedGenerationOptions,
} from './options/generation-options.js';
export { loadGenerationConfig, checkGenerationConfig, GENERATION_CONFIG_FILE, type GenerationConfig } from './options/generation-config.js';
export { GenerationError } from './errors.js';

export { applyRepetitionPenalty, applyTemperature, applyTopK, applyTopP, applyMinP } from './sampling/logits-processors.js';
export { chooseToken, argmaxOf, sampleFromLogits, type SamplingParams } from './sampling/choose-token.js';
export { createRandom } from './sampling/random.js';
export { createStreamDecoder, type StreamDecoder } from './text/stream-decoder.js';
export { createStopMatcher, type StopMatcher } from './text/stop-strings.js';
export { generationFlags, generationOptionsFromFlags } from './options/generation-flags.js';
