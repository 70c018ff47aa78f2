/**
 * The linear layers of a loaded model, by module path, with their (out, in) weights.
 *
 * A model lists its top-level modules, but the linears inside an MLP block are reached only
 * through their parameters ("model.layers.0.mlp.up_proj.weight"). Every architecture holds
 * linear weights as (out, in), GPT-2's Conv1D included, so a 2-D "<path>.weight" that is not an
 * embedding table is a linear layer's weight.
 */
import type { ModelHandle } from '@lmflow/core';
import type { Tensor } from '@lmflow/tensor';

export function linearWeights(model: ModelHandle): Map<string, Tensor> {
  const embeddings = new Set([...model.modules()].filter((m) => m.kind === 'embedding').map((m) => m.name));
  const out = new Map<string, Tensor>();
  for (const [name, t] of model.namedParameters()) {
    if (!name.endsWith('.weight') || t.ndim !== 2) continue;
    const module = name.slice(0, -'.weight'.length);
    if (embeddings.has(module) || /\.lora_[AB]$/.test(module)) continue;
    out.set(module, t);
  }
  return out;
}
