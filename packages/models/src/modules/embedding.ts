/** A token (or position) embedding table (num_embeddings, embedding_dim). */
import { embedding, type Tensor } from '@lmflow/tensor';
import type { EmbeddingModule } from '@lmflow/core';

export function createEmbedding(name: string, weight: Tensor): EmbeddingModule {
  const [numEmbeddings, embeddingDim] = weight.shape as [number, number];
  return {
    kind: 'embedding',
    name,
    numEmbeddings,
    embeddingDim,
    *parameters() {
      yield ['weight', weight];
    },
    // ids: (...) i32 -> (..., embeddingDim)
    forward: (ids) => embedding(weight, ids),
  };
}
