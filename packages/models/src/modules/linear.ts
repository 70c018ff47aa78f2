/** A linear layer over a Hugging Face weight (out_features, in_features) and optional bias. */
import { linear, type Tensor } from '@lmflow/tensor';
import type { LinearModule } from '@lmflow/core';

export function createLinear(name: string, weight: Tensor, bias: Tensor | null = null): LinearModule {
  const [outFeatures, inFeatures] = weight.shape as [number, number];
  return {
    kind: 'linear',
    name,
    inFeatures,
    outFeatures,
    *parameters() {
      yield ['weight', weight];
      if (bias) yield ['bias', bias];
    },
    // x: (..., in) -> (..., out)
    forward: (x) => linear(x, weight, bias),
  };
}
