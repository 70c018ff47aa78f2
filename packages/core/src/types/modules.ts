/**
 * The pieces a model is built from, as plugins see them through `model.hooks.wrapModule`: a
 * LoRA plugin wraps `linear` modules, FlashAttention replaces `attention`, and so on. Names
 * are the Hugging Face module paths (`model.layers.0.self_attn.q_proj`), so adapters saved
 * under them load in PEFT.
 */
import type { Tensor } from '@lmflow/tensor';

export type ModuleKind = 'linear' | 'attention' | 'embedding' | 'mlp';

interface ModuleBase {
  readonly kind: ModuleKind;
  /** Hugging Face module path. */
  readonly name: string;
  /** Parameters under their names relative to the module ("weight", "lora_A.weight", ...). */
  parameters(): Iterable<[string, Tensor]>;
}

export interface LinearModule extends ModuleBase {
  readonly kind: 'linear';
  readonly inFeatures: number;
  readonly outFeatures: number;
  /** x: (..., inFeatures) -> (..., outFeatures) */
  forward(x: Tensor): Tensor;
}

export interface AttentionInputs {
  /** (B, T, Hq, D) */
  q: Tensor;
  /** (B, S, Hkv, D), already including cached keys */
  k: Tensor;
  v: Tensor;
  causal: boolean;
  scale: number;
  /** (B, T) and (B, S) i32 segment ids, when packing or padding. */
  qSegments?: Tensor | null;
  kSegments?: Tensor | null;
}

export interface AttentionModule extends ModuleBase {
  readonly kind: 'attention';
  /** Returns (B, T, Hq, D). */
  forward(inputs: AttentionInputs): Tensor;
}

export interface EmbeddingModule extends ModuleBase {
  readonly kind: 'embedding';
  readonly numEmbeddings: number;
  readonly embeddingDim: number;
  /** ids (any shape, i32) -> (..., embeddingDim) */
  forward(ids: Tensor): Tensor;
}

export interface MlpModule extends ModuleBase {
  readonly kind: 'mlp';
  forward(x: Tensor): Tensor;
}

export type Module = LinearModule | AttentionModule | EmbeddingModule | MlpModule;

export interface ModuleOfKind {
  linear: LinearModule;
  attention: AttentionModule;
  embedding: EmbeddingModule;
  mlp: MlpModule;
}
