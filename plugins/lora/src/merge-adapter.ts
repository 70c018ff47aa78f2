/**
 * Merging an adapter into a model's weights: W' = W + scale * B @ A for each adapted linear
 * (DoRA: W' = m / ||W + scale * B @ A||_row * (W + scale * B @ A)). The model is then a plain
 * model that computes what base + adapter computed, with no extra work per token; saveModel
 * writes it as an ordinary Hugging Face folder (`lmflow merge-lora`).
 */
import { LoraError } from './lora-error.js';
import { copy_, isFloat, noGrad, type Tensor } from '@lmflow/tensor';
import type { ModelHandle } from '@lmflow/core';
import { linearWeights } from './model-linears.js';
import { loadAdapterWeights, type AdapterTarget } from './adapter-weights.js';
import { loraScale, mergedWeight } from './lora-linear.js';
import { readAdapterConfig, type AdapterConfig } from './peft-format.js';
import { isTargeted, shortName } from './target-modules.js';

export interface MergeResult {
  config: AdapterConfig;
  /** Module paths whose weights changed. */
  merged: string[];
}

/**
 * Folds the adapter in `adapterDir` into `model`'s linear weights, in place. The model must be
 * loaded without the LoRA plugin (its linear modules plain, with dense weights).
 */
export async function mergeLoraAdapter(model: ModelHandle, adapterDir: string): Promise<MergeResult> {
  const config = readAdapterConfig(adapterDir);
  const linears = linearWeights(model);
  const weights = new Map<string, Tensor>([...linears].filter(([name]) => isTargeted(name, config.targetModules)));
  if (weights.size === 0) {
    throw new LoraError(`${config.file}: "target_modules" ${JSON.stringify(config.targetModules)} match no linear module of this ${model.config.model_type} model; its linear modules are named ${[...new Set([...linears.keys()].map(shortName))].join(', ')}`);
  }
  if ([...model.namedParameters()].some(([name]) => name.includes('.lora_'))) {
    throw new LoraError('mergeLoraAdapter: the model already has LoRA adapters; load the base model without the LoRA plugin');
  }
  for (const [name, weight] of weights) {
    if (!isFloat(weight.dtype)) throw new LoraError(`mergeLoraAdapter: ${name}.weight is ${weight.dtype} (a quantized model?); merge into the unquantized base model`);
  }
  const targets = new Map<string, AdapterTarget>([...weights].map(([name, w]) => [name, { outFeatures: w.shape[0]!, inFeatures: w.shape[1]! }]));
  const first = weights.values().next().value as Tensor;
  const loaded = await loadAdapterWeights(adapterDir, config, targets, new Set(linears.keys()), { device: first.device, dtype: first.dtype === 'f64' ? 'f64' : 'f32' });
  const scale = loraScale(config.r, config.alpha, config.useRslora);
  try {
    noGrad(() => {
      for (const [name, weight] of weights) {
        const { loraA, loraB, magnitude } = loaded.get(name)!;
        const merged = mergedWeight(weight, loraA, loraB, scale, magnitude);
        const stored = merged.dtype === weight.dtype ? merged : merged.cast(weight.dtype);
        copy_(weight, stored);
        merged.dispose();
        if (stored !== merged) stored.dispose();
      }
    });
  } finally {
    for (const parts of loaded.values()) for (const t of [parts.loraA, parts.loraB, parts.magnitude]) t?.dispose();
  }
  return { config, merged: [...weights.keys()] };
}
