/**
 * Feed-forward blocks built from linear modules (already wrapped by plugins, so a LoRA on
 * gate_proj is used here). Parameters are listed through the linear modules, under their
 * names relative to the block ("gate_proj.weight", ...).
 */
import { mul, type Tensor } from '@lmflow/tensor';
import type { LinearModule, MlpModule } from '@lmflow/core';
import { fusedLinears } from './linear.js';

export type Activation = (x: Tensor) => Tensor;

function* parametersOf(parts: Record<string, LinearModule>): Iterable<[string, Tensor]> {
  for (const [prefix, module] of Object.entries(parts)) {
    for (const [name, t] of module.parameters()) yield [`${prefix}.${name}`, t];
  }
}

/** Llama's SwiGLU: down(act(gate(x)) * up(x)). x: (..., C) -> (..., C) */
export function createGatedMlp(name: string, parts: { gate_proj: LinearModule; up_proj: LinearModule; down_proj: LinearModule }, act: Activation): MlpModule {
  return {
    kind: 'mlp',
    name,
    parameters: () => parametersOf(parts),
    forward: (x) => {
      const [gate, up] = fusedLinears(x, [parts.gate_proj, parts.up_proj]);
      return parts.down_proj.forward(mul(act(gate!), up!));
    },
  };
}

/** GPT-2's MLP: c_proj(act(c_fc(x))). x: (..., C) -> (..., C) */
export function createGpt2Mlp(name: string, parts: { c_fc: LinearModule; c_proj: LinearModule }, act: Activation): MlpModule {
  return {
    kind: 'mlp',
    name,
    parameters: () => parametersOf(parts),
    forward: (x) => parts.c_proj.forward(act(parts.c_fc.forward(x))),
  };
}
