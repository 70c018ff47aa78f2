/** A linear layer over a Hugging Face weight (out_features, in_features) and optional bias. */
import { isGradEnabled, linear, linearGroup, type Tensor } from '@lmflow/tensor';
import type { LinearModule } from '@lmflow/core';

// The weight of each bias-free module made here, for fusedLinears. A module a plugin wrapped
// or replaced is another object, so it is not found and runs its own forward.
const plainWeights = new WeakMap<LinearModule, Tensor>();

export function createLinear(name: string, weight: Tensor, bias: Tensor | null = null): LinearModule {
  const [outFeatures, inFeatures] = weight.shape as [number, number];
  const module: LinearModule = {
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
  if (!bias) plainWeights.set(module, weight);
  return module;
}

/**
 * modules[i].forward(x) for each module: as one linearGroup (one backend call) when autograd
 * is off and every module is a bias-free createLinear that no plugin wrapped, otherwise one
 * forward each. The weights are read as they are now, so nothing goes stale when they change.
 * x: (..., in) -> [(..., out_i)]
 */
export function fusedLinears(x: Tensor, modules: readonly LinearModule[]): Tensor[] {
  if (!isGradEnabled()) {
    const weights = modules.map((m) => plainWeights.get(m));
    if (weights.every((w) => w !== undefined)) return linearGroup(x, weights as Tensor[]);
  }
  return modules.map((m) => m.forward(x));
}
