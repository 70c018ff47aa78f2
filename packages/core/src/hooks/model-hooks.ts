/** Hooks of model construction and weights (LoRA, QLoRA, FlashAttention, rope scaling, ...). */
import { AsyncSeriesHook, HookMap, SyncWaterfallHook } from 'tapable';
import type { Tensor } from '@lmflow/tensor';
import type { Module, ModuleKind } from '../types/modules.js';

/** config.json of a Hugging Face model, as parsed (architecture-specific keys included). */
export type ModelConfig = Record<string, unknown> & { model_type: string };

export interface ModelContext {
  /** The model folder or hub id. */
  source: string;
  config: ModelConfig;
  device: string;
}

export interface WrapModuleContext extends ModelContext {
  /** Index of the decoder layer the module belongs to, or -1 outside layers. */
  layer: number;
}

/** A model as hooks see it: its modules by Hugging Face path, and its parameters. */
export interface ModelHandle {
  readonly config: ModelConfig;
  modules(): Iterable<Module>;
  /** Every parameter by its Hugging Face name. */
  namedParameters(): Iterable<[string, Tensor]>;
}

/** What trainableParams and stateDict taps see besides the value they transform. */
export interface ModelHandleContext {
  readonly model: ModelHandle;
}

/** Something that encodes non-text inputs into embeddings (image encoders, ...). */
export interface Encoder {
  readonly modality: string;
  encode(input: unknown): Tensor;
}

export interface ModelHooks {
  /** Adjusts config.json before the model is built (rope scaling, vocabulary size). Waterfall. */
  readonly configure: SyncWaterfallHook<[ModelConfig, ModelContext]>;
  /** Replaces or wraps each module as it is built, by kind. Waterfall per kind. */
  readonly wrapModule: HookMap<SyncWaterfallHook<[Module, WrapModuleContext]>>;
  /** Runs after weights are loaded (quantize, merge, resize embeddings). Async series. */
  readonly afterLoadWeights: AsyncSeriesHook<[ModelHandle, ModelContext]>;
  /** The parameters to train, by name (LoRA keeps only adapters). Waterfall. */
  readonly trainableParams: SyncWaterfallHook<[[string, Tensor][], ModelHandleContext]>;
  /** The tensors to save, by name (adapters only, merged weights). Waterfall. */
  readonly stateDict: SyncWaterfallHook<[Map<string, Tensor>, ModelHandleContext]>;
  /** Encoders for other modalities, by modality ("image"). Waterfall per modality. */
  readonly encoders: HookMap<SyncWaterfallHook<[Encoder | undefined, ModelContext]>>;
}

export interface ModelOwner {
  readonly hooks: ModelHooks;
}

const MODULE_KINDS: readonly ModuleKind[] = ['linear', 'attention', 'embedding', 'mlp'];

export function createModelOwner(): ModelOwner {
  const wrapModule = new HookMap<SyncWaterfallHook<[Module, WrapModuleContext]>>((kind) => {
    if (!MODULE_KINDS.includes(kind as ModuleKind)) {
      throw new Error(`model.hooks.wrapModule: unknown module kind "${kind}"; expected ${MODULE_KINDS.join(', ')}`);
    }
    return new SyncWaterfallHook<[Module, WrapModuleContext]>(['module', 'context']);
  });
  return {
    hooks: Object.freeze({
      configure: new SyncWaterfallHook<[ModelConfig, ModelContext]>(['config', 'context']),
      wrapModule,
      afterLoadWeights: new AsyncSeriesHook<[ModelHandle, ModelContext]>(['model', 'context']),
      trainableParams: new SyncWaterfallHook<[[string, Tensor][], ModelHandleContext]>(['params', 'context']),
      stateDict: new SyncWaterfallHook<[Map<string, Tensor>, ModelHandleContext]>(['tensors', 'context']),
      encoders: new HookMap<SyncWaterfallHook<[Encoder | undefined, ModelContext]>>(
        () => new SyncWaterfallHook<[Encoder | undefined, ModelContext]>(['encoder', 'context']),
      ),
    }),
  };
}
