/** Hooks of generation: samplers, logit processors, speculative decoding. */
import { SyncBailHook, SyncHook, SyncWaterfallHook } from 'tapable';
import type { Tensor } from '@lmflow/tensor';

export interface GenerateContext {
  /** Prompt token ids, one row per sequence in the batch. */
  readonly promptIds: readonly (readonly number[])[];
  /** The resolved generation options of @lmflow/inference (maxNewTokens, temperature, topP, ...). */
  readonly options: Record<string, unknown>;
}

export interface LogitsContext extends GenerateContext {
  /** Tokens generated so far, per row. */
  readonly generated: readonly (readonly number[])[];
  /** 0 for the first new token. */
  readonly step: number;
}

export interface AfterGenerateContext extends GenerateContext {
  readonly outputIds: readonly (readonly number[])[];
}

export interface DecoderHooks {
  readonly beforeGenerate: SyncHook<[GenerateContext]>;
  /** Rewrites the next-token logits (B, V) (repetition penalty, grammar masks). Waterfall. */
  readonly processLogits: SyncWaterfallHook<[Tensor, LogitsContext]>;
  /** Proposes several next tokens per row to verify at once (speculative decoding). Bail. */
  readonly proposeTokens: SyncBailHook<[LogitsContext], number[][] | undefined>;
  readonly afterGenerate: SyncHook<[AfterGenerateContext]>;
}

export interface DecoderOwner {
  readonly hooks: DecoderHooks;
}

export function createDecoderOwner(): DecoderOwner {
  return {
    hooks: Object.freeze({
      beforeGenerate: new SyncHook<[GenerateContext]>(['context']),
      processLogits: new SyncWaterfallHook<[Tensor, LogitsContext]>(['logits', 'context']),
      proposeTokens: new SyncBailHook<[LogitsContext], number[][] | undefined>(['context']),
      afterGenerate: new SyncHook<[AfterGenerateContext]>(['context']),
    }),
  };
}
