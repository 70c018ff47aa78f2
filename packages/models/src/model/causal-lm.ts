/**
 * The causal language model every architecture presents: a forward pass from token ids to
 * logits, its modules and parameters by Hugging Face name, and a KV cache for decoding. The
 * architecture files build the decoder (a `DecoderCore`); this file adds what all share:
 * input checks, default positions, the cache step, segment masks and sliding windows.
 */
import { arange, checkpoint, clone, isGradEnabled, noGrad, tidy, type DType, type Tensor } from '@lmflow/tensor';
import type { ModelConfig, ModelHandle, Module, Runtime } from '@lmflow/core';
import { beginCacheStep, type CacheStep, type KvCache, type KvCacheHost, type KvLayout } from './kv-cache.js';

export interface ForwardOptions {
  /**
   * Position of each token, i32 (B, T) or (T). @default cache.length + 0 .. T-1 (0 .. T-1
   * without a cache)
   */
  positions?: Tensor;
  /**
   * Segment id of each token, i32 (B, T): a token attends only to earlier tokens of its own
   * segment (packed samples; padding takes an id no real token has). With a cache, give them
   * at every step. @default one segment
   */
  segments?: Tensor;
  /**
   * A cache from createKvCache: this step's keys and values are appended to it and attention
   * covers every cached token. The pass then runs without autograd (the cache is for inference).
   */
  cache?: KvCache;
  /**
   * Logits of the last position of each row only: (B, 1, V) instead of (B, T, V). Generation
   * reads nothing else from a prompt's pass, and projecting every prompt token onto the
   * vocabulary costs a (T, C) x (C, V) product that is then thrown away. @default false
   */
  lastLogitsOnly?: boolean;
  /**
   * Recompute each decoder layer during backward instead of keeping its activations (the
   * tensor package's `checkpoint`): activation memory drops from every layer's intermediates
   * to one hidden state (B, T, C) per layer, for about one more forward pass of compute.
   * Gradients are the same. Only matters while autograd records (training). @default false
   */
  gradientCheckpointing?: boolean;
}

export interface CausalLM<C extends ModelConfig = ModelConfig> extends ModelHandle, KvCacheHost {
  /** config.json as parsed (after model.hooks.configure), with transformers' defaults filled in. */
  readonly config: C;
  readonly modelType: string;
  /** The folder the model was loaded from ('' when built in memory). */
  readonly source: string;
  readonly device: string;
  readonly dtype: DType;
  readonly vocabSize: number;
  /** The runtime whose hooks built the model, if any (saveModel calls its stateDict hook). */
  readonly runtime: Runtime | null;
  /** inputIds: i32 (B, T) -> logits (B, T, V) in the model's dtype. */
  forward(inputIds: Tensor, options?: ForwardOptions): Tensor;
  /** Every module as built (after plugins wrapped them), in order. */
  modules(): Module[];
  /** Parameters by Hugging Face name, each tensor once (a tied lm_head is listed as the embedding). */
  namedParameters(): [string, Tensor][];
  /**
   * The tensors to save under their Hugging Face names and layouts (GPT-2's Conv1D weights
   * transposed back, a tied lm_head left out). `temporary` lists tensors made for this call,
   * which the caller disposes.
   */
  stateDict(): { tensors: Map<string, Tensor>; temporary: Tensor[] };
  /** Frees every parameter and buffer. */
  dispose(): void;
}

/** @internal What one forward pass gives an architecture's layers. */
export interface ForwardStep {
  /** i32 (T) or (B, T). */
  readonly positions: Tensor;
  /**
   * The keys and values attention reads for a layer, from this step's k, v (B, T, Hkv, D):
   * appended to the cache when there is one, cut to the layer's sliding window, with the
   * segment ids of queries and keys.
   */
  keysAndValues(layer: number, k: Tensor, v: Tensor, window: number | null): { k: Tensor; v: Tensor; qSegments: Tensor | null; kSegments: Tensor | null };
  /**
   * The hidden states (B, T, C) the LM head should project: x itself, or its last position
   * (B, 1, C) when the caller asked for lastLogitsOnly. Architectures call it before the final
   * norm; one that does not still gives the right logits (cut after the head), only slower.
   */
  headInput(x: Tensor): Tensor;
  /**
   * Runs decoder layer `index` on x (B, T, C): `layer(x, step)` itself, or through
   * `checkpoint` when the caller asked for gradientCheckpointing. The layer must read
   * positions and segment ids from the step it is given (a recompute gets its own).
   */
  runLayer(index: number, x: Tensor, layer: (x: Tensor, step: ForwardStep) => Tensor): Tensor;
}

/** @internal An architecture's decoder. */
export interface DecoderCore {
  readonly kvLayout: KvLayout;
  readonly maxPositions: number;
  readonly learnedPositions: boolean;
  readonly vocabSize: number;
  modules(): Module[];
  namedParameters(): [string, Tensor][];
  stateDict(): { tensors: Map<string, Tensor>; temporary: Tensor[] };
  /** ids: (B, T) -> logits (B, T, V) */
  forward(ids: Tensor, step: ForwardStep): Tensor;
  dispose(): void;
}

export interface CausalLMInfo<C extends ModelConfig> {
  config: C;
  source: string;
  device: string;
  dtype: DType;
  runtime: Runtime | null;
}

export function createCausalLM<C extends ModelConfig>(core: DecoderCore, info: CausalLMInfo<C>): CausalLM<C> {
  let disposed = false;
  const model: CausalLM<C> = {
    config: info.config,
    modelType: info.config.model_type,
    source: info.source,
    device: info.device,
    dtype: info.dtype,
    runtime: info.runtime,
    vocabSize: core.vocabSize,
    kvLayout: core.kvLayout,
    maxPositions: core.maxPositions,
    learnedPositions: core.learnedPositions,
    forward(inputIds, options = {}) {
      if (disposed) throw new Error('forward: the model was disposed');
      const run = () => forwardPass(model, core, inputIds, options);
      return options.cache && isGradEnabled() ? noGrad(run) : run();
    },
    modules: () => core.modules(),
    namedParameters: () => core.namedParameters(),
    stateDict: () => core.stateDict(),
    dispose() {
      if (disposed) return;
      disposed = true;
      core.dispose();
    },
  };
  return model;
}

function forwardPass(host: CausalLM, core: DecoderCore, ids: Tensor, options: ForwardOptions): Tensor {
  if (ids.ndim !== 2 || (ids.dtype !== 'i32' && ids.dtype !== 'i64')) {
    throw new Error(`forward: inputIds must be i32 token ids of shape (batch, time), got ${ids.describe()}`);
  }
  if (ids.device !== host.device) throw new Error(`forward: inputIds are on ${ids.device} but the model is on ${host.device}`);
  const [B, T] = ids.shape as [number, number];
  if (T === 0) throw new Error(`forward: inputIds ${ids.describe()} hold no tokens`);
  const { cache, segments = null, lastLogitsOnly = false } = options;
  if (segments) checkIndexTensor('segments', segments, host, [[B, T]], ids);
  if (options.positions) checkIndexTensor('positions', options.positions, host, [[B, T], [T]], ids);

  const step: CacheStep | null = cache ? beginCacheStep(cache, host, B, T, segments) : null;
  const start = step?.start ?? 0;
  if (!options.positions && host.learnedPositions && start + T > host.maxPositions) {
    throw new Error(`forward: positions ${start}..${start + T - 1} go beyond the ${host.maxPositions} learned positions of the model`);
  }
  const logits = tidy(() => {
    const positions = options.positions ?? arange(start, start + T, 1, { dtype: 'i32', device: host.device });
    // A step over given positions and segment ids: the pass's own, or a checkpointed layer's
    // copies of them when backward recomputes it (this scope's tensors are freed by then).
    const forwardStep = (positions: Tensor, segments: Tensor | null): ForwardStep => ({
      positions,
      keysAndValues(layer, k, v, window) {
        let keys = k;
        let values = v;
        let kSegments = segments;
        if (step) {
          ({ k: keys, v: values } = step.append(layer, k, v));
          kSegments = step.keySegments();
        }
        const S = keys.shape[1]!;
        if (window !== null && S > window) {
          // The last `window` keys are exactly what one new query sees; several queries would
          // each need a different band, which the fused attention has no mask for.
          if (T !== 1) {
            throw new Error(
              `forward: layer ${layer} uses a sliding window of ${window} tokens (config.json "sliding_window"), and ${T} tokens ` +
                `${start > 0 ? `after ${start} cached ` : ''}span ${S} keys; sliding-window attention over more than ${window} keys ` +
                'is supported one token at a time (decode with a KV cache after a prompt of at most the window)',
            );
          }
          keys = keys.narrow(1, S - window, window);
          values = values.narrow(1, S - window, window);
          kSegments = kSegments ? kSegments.narrow(1, S - window, window) : null;
        }
        return { k: keys, v: values, qSegments: segments, kSegments };
      },
      headInput: (x) => (lastLogitsOnly && x.shape[1]! > 1 ? x.narrow(1, x.shape[1]! - 1, 1) : x),
      runLayer(_index, x, layer) {
        // With a cache the pass runs without autograd, so there is nothing to checkpoint.
        if (!options.gradientCheckpointing || !isGradEnabled()) return layer(x, forwardStep(positions, segments));
        // x, positions and segment ids are the segment's inputs, so checkpoint keeps them for
        // the recompute; parameters are closed over and get their gradients during it.
        const inputs = segments ? [x, positions, segments] : [x, positions];
        return checkpoint((xIn, positionsIn, segmentsIn) => layer(xIn!, forwardStep(positionsIn!, segmentsIn ?? null)), ...inputs);
      },
    });
    const all = core.forward(ids, forwardStep(positions, segments));
    if (!lastLogitsOnly || all.shape[1] === 1) return all;
    // The architecture projected every position: keep the last one, in memory of its own.
    return clone(all.narrow(1, all.shape[1]! - 1, 1));
  });
  step?.commit();
  return logits;
}

function checkIndexTensor(name: string, t: Tensor, host: CausalLM, shapes: number[][], ids: Tensor): void {
  if (t.dtype !== 'i32') throw new Error(`forward: options.${name} must be i32, got ${t.describe()}`);
  if (t.device !== host.device) throw new Error(`forward: options.${name} is on ${t.device} but the model is on ${host.device}`);
  if (!shapes.some((s) => s.length === t.ndim && s.every((d, i) => d === t.shape[i]))) {
    throw new Error(`forward: options.${name} must have shape ${shapes.map((s) => `[${s.join(', ')}]`).join(' or ')} to match inputIds ${ids.describe()}, got ${t.describe()}`);
  }
}
