/**
 * The key/value cache of a decoder: per layer, keys and values of every token seen so far, so
 * each new token attends to them without re-running the prompt.
 *
 * Buffers are preallocated as (B, capacity, Hkv, D) per layer and grown in blocks of tokens
 * (one copy per block, not per token) up to maxLength. Attention reads the cached keys and
 * values as strided views (B, S, Hkv, D) of those buffers: nothing is concatenated.
 */
import { copy_, empty, keep, type DType, type Tensor } from '@lmflow/tensor';

/** What a model's cache holds per layer. */
export interface KvLayout {
  readonly layers: number;
  readonly kvHeads: number;
  readonly headDim: number;
}

/** The model fields a cache is created from. */
export interface KvCacheHost {
  readonly kvLayout: KvLayout;
  readonly device: string;
  readonly dtype: DType;
  /** Positions the model supports (learned position embeddings cannot go further). */
  readonly maxPositions: number;
  readonly learnedPositions: boolean;
}

export interface KvCacheOptions {
  /** Sequences decoded together. */
  batch: number;
  /** Most tokens the cache may hold. @default the model's max_position_embeddings (n_positions for GPT-2) */
  maxLength?: number;
  /** Tokens added to the buffers each time they grow. @default 256 */
  blockSize?: number;
}

export interface KvCache {
  readonly batch: number;
  readonly maxLength: number;
  /** Tokens cached: the next token's position when there is no padding. */
  readonly length: number;
  /** Tokens the buffers hold before they grow. */
  readonly capacity: number;
  readonly device: string;
  readonly dtype: DType;
  /** Forgets every cached token; the buffers stay allocated. */
  reset(): void;
  /** Keeps the first n tokens (drops rejected speculative tokens, rewinds a chat turn). */
  truncate(n: number): void;
  dispose(): void;
}

/** @internal What a forward pass does with the cache. */
export interface CacheStep {
  /** Tokens cached before this step. */
  readonly start: number;
  /** Writes this step's k, v (B, T, Hkv, D) of a layer; returns the views (B, start + T, Hkv, D). */
  append(layer: number, k: Tensor, v: Tensor): { k: Tensor; v: Tensor };
  /** Segment ids (B, start + T) of every cached key, when the cache tracks segments. */
  keySegments(): Tensor | null;
  /** Counts this step's tokens as cached (after every layer has appended). */
  commit(): void;
}

interface CacheState {
  readonly host: KvCacheHost;
  readonly blockSize: number;
  capacity: number;
  length: number;
  keys: Tensor[];
  values: Tensor[];
  segments: Tensor | null;
  /** Whether forward passes give segments; fixed by the first one after a reset. */
  usesSegments: boolean | null;
  disposed: boolean;
}

const states = new WeakMap<KvCache, CacheState>();

/** A cache for `model` (anything with a kvLayout: every CausalLM of this package). */
export function createKvCache(model: KvCacheHost, options: KvCacheOptions): KvCache {
  const { batch } = options;
  if (!Number.isSafeInteger(batch) || batch <= 0) throw new Error(`createKvCache: batch must be a positive integer, got ${batch}`);
  const maxLength = options.maxLength ?? model.maxPositions;
  if (!Number.isSafeInteger(maxLength) || maxLength <= 0) throw new Error(`createKvCache: maxLength must be a positive integer, got ${maxLength}`);
  if (model.learnedPositions && maxLength > model.maxPositions) {
    throw new Error(`createKvCache: maxLength ${maxLength} is beyond the ${model.maxPositions} positions the model's learned position embeddings cover`);
  }
  const blockSize = options.blockSize ?? 256;
  if (!Number.isSafeInteger(blockSize) || blockSize <= 0) throw new Error(`createKvCache: blockSize must be a positive integer, got ${blockSize}`);
  const state: CacheState = { host: model, blockSize, capacity: 0, length: 0, keys: [], values: [], segments: null, usesSegments: null, disposed: false };
  const live = () => {
    if (state.disposed) throw new Error('KvCache: the cache was disposed');
    return state;
  };
  const cache: KvCache = {
    batch,
    maxLength,
    get length() {
      return state.length;
    },
    get capacity() {
      return state.capacity;
    },
    device: model.device,
    dtype: model.dtype,
    reset() {
      live().length = 0;
      state.usesSegments = null;
    },
    truncate(n) {
      if (!Number.isSafeInteger(n) || n < 0 || n > live().length) {
        throw new Error(`KvCache.truncate: n must be an integer in [0, ${state.length}] (the cached length), got ${n}`);
      }
      state.length = n;
      if (n === 0) state.usesSegments = null;
    },
    dispose() {
      if (state.disposed) return;
      state.disposed = true;
      for (const t of [...state.keys, ...state.values]) t.dispose();
      state.segments?.dispose();
      state.keys = [];
      state.values = [];
      state.segments = null;
    },
  };
  states.set(cache, state);
  return cache;
}

/**
 * @internal Starts a forward step of T tokens: checks the cache fits the model and input, grows
 * the buffers when needed and records the step's segment ids.
 */
export function beginCacheStep(cache: KvCache, host: KvCacheHost, batch: number, tokens: number, segments: Tensor | null): CacheStep {
  const state = states.get(cache);
  if (!state) throw new Error('forward: options.cache is not a KvCache from createKvCache');
  if (state.disposed) throw new Error('forward: options.cache was disposed');
  const layout = host.kvLayout;
  if (state.host !== host) {
    const a = state.host.kvLayout;
    if (a.layers !== layout.layers || a.kvHeads !== layout.kvHeads || a.headDim !== layout.headDim || state.host.dtype !== host.dtype || state.host.device !== host.device) {
      throw new Error(
        `forward: options.cache was made for another model (${a.layers} layers x ${a.kvHeads} kv heads x ${a.headDim}, ${state.host.dtype} on ${state.host.device}); ` +
          `this one needs ${layout.layers} x ${layout.kvHeads} x ${layout.headDim}, ${host.dtype} on ${host.device}`,
      );
    }
  }
  if (batch !== cache.batch) throw new Error(`forward: input_ids have batch ${batch} but the cache was created for batch ${cache.batch}`);
  const start = state.length;
  const end = start + tokens;
  if (end > cache.maxLength) {
    throw new Error(`forward: ${tokens} new tokens after ${start} cached exceed the cache's maxLength of ${cache.maxLength}`);
  }
  if (state.usesSegments === null || start === 0) state.usesSegments = segments !== null;
  else if (state.usesSegments !== (segments !== null)) {
    throw new Error(
      state.usesSegments
        ? 'forward: the cached tokens came with segment ids, so every later step must give options.segments too'
        : 'forward: the cached tokens came without segment ids; give options.segments from the first step (or reset the cache)',
    );
  }
  if (end > state.capacity) grow(state, cache, end);
  if (segments) {
    // A cache reset and reused with segments may have none allocated yet.
    state.segments ??= keep(empty([cache.batch, state.capacity], { dtype: 'i32', device: host.device }));
    copyInto(state.segments, start, segments);
  }
  return {
    start,
    append(layer, k, v) {
      copyInto(state.keys[layer]!, start, k);
      copyInto(state.values[layer]!, start, v);
      return { k: state.keys[layer]!.narrow(1, 0, end), v: state.values[layer]!.narrow(1, 0, end) };
    },
    keySegments: () => (state.usesSegments ? state.segments!.narrow(1, 0, end) : null),
    commit() {
      state.length = end;
    },
  };
}

/** Grows every buffer to the next multiple of the block size that holds `needed` tokens. */
function grow(state: CacheState, cache: KvCache, needed: number): void {
  const capacity = Math.min(cache.maxLength, Math.ceil(needed / state.blockSize) * state.blockSize);
  const { layers, kvHeads, headDim } = state.host.kvLayout;
  const options = { dtype: state.host.dtype, device: state.host.device };
  // Only [0, length) is ever read, so old contents are copied and the rest left uninitialised.
  const regrow = (old: Tensor | undefined, shape: number[], dtype: DType) => {
    // keep: the buffers outlive any tidy scope the forward pass runs in.
    const next = keep(empty(shape, { ...options, dtype }));
    if (old) {
      if (state.length > 0) {
        const kept = old.narrow(1, 0, state.length);
        copyInto(next, 0, kept);
        kept.dispose();
      }
      old.dispose();
    }
    return next;
  };
  for (let i = 0; i < layers; i++) {
    state.keys[i] = regrow(state.keys[i], [cache.batch, capacity, kvHeads, headDim], state.host.dtype);
    state.values[i] = regrow(state.values[i], [cache.batch, capacity, kvHeads, headDim], state.host.dtype);
  }
  if (state.usesSegments) state.segments = regrow(state.segments ?? undefined, [cache.batch, capacity], 'i32');
  state.capacity = capacity;
}

/** Copies src (B, T, ...) into buffer (B, capacity, ...) at [start, start + T) of dim 1. */
function copyInto(buffer: Tensor, start: number, src: Tensor): void {
  const slot = buffer.narrow(1, start, src.shape[1]!);
  try {
    copy_(slot, src);
  } finally {
    slot.dispose();
  }
}
