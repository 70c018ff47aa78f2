/**
 * The attention computation of a layer (the projections are separate linear modules): fused
 * scaled dot-product attention with grouped-query heads, causal masking aligned to the end
 * (new queries after cached keys) and segment masks for packed or padded batches. Plugins
 * replace it (FlashAttention, ...) through wrapModule('attention').
 */
import { scaledDotProductAttention } from '@lmflow/tensor';
import type { AttentionModule } from '@lmflow/core';

export function createSdpaAttention(name: string): AttentionModule {
  return {
    kind: 'attention',
    name,
    *parameters() {},
    // q: (B, T, Hq, D); k, v: (B, S, Hkv, D) -> (B, T, Hq, D)
    forward: ({ q, k, v, causal, scale, qSegments, kSegments }) =>
      scaledDotProductAttention(q, k, v, { causal, scale, qSegments: qSegments ?? undefined, kSegments: kSegments ?? undefined }),
  };
}
