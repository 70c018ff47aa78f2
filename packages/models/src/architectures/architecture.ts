/**
 * What an architecture provides: its config.json parser, the weights it needs, and a builder
 * that turns checked weights into a decoder, calling `wrap` on every module as it is built so
 * plugins can wrap or replace it.
 */
import type { DType, Tensor } from '@lmflow/tensor';
import type { ModelConfig, Module } from '@lmflow/core';
import type { DecoderCore } from '../model/causal-lm.js';
import type { WeightRules } from '../model/weights.js';

export interface BuildContext {
  readonly device: string;
  readonly dtype: DType;
  /** Passes a module through model.hooks.wrapModule (identity without a runtime). */
  wrap<M extends Module>(module: M, layer: number): M;
}

export interface Architecture<C extends ModelConfig = ModelConfig> extends WeightRules {
  readonly modelTypes: readonly string[];
  parseConfig(raw: ModelConfig, file: string): C;
  /** The transformers class written to config.json "architectures". */
  className(config: C): string;
  /** Every weight the model needs, by Hugging Face name, with its shape as stored. */
  expectedWeights(config: C): Map<string, number[]>;
  /** Builds the decoder; it owns the weights from then on. */
  build(config: C, weights: Map<string, Tensor>, context: BuildContext): DecoderCore;
}

/**
 * Parameters by full name from named sources, each tensor once (torch's named_parameters with
 * remove_duplicate: a tied lm_head shows up as the embedding).
 */
export function uniqueParameters(sources: Iterable<[string, Iterable<[string, Tensor]>]>): [string, Tensor][] {
  const seen = new Set<Tensor>();
  const out: [string, Tensor][] = [];
  for (const [prefix, params] of sources) {
    for (const [name, t] of params) {
      if (seen.has(t)) continue;
      seen.add(t);
      out.push([prefix ? `${prefix}.${name}` : name, t]);
    }
  }
  return out;
}

/** A module's parameters as a source for uniqueParameters. */
export function moduleSource(module: Module): [string, Iterable<[string, Tensor]>] {
  return [module.name, module.parameters()];
}

/** A lone tensor (a norm weight) as a source for uniqueParameters. */
export function tensorSource(name: string, t: Tensor | null): [string, Iterable<[string, Tensor]>] {
  return ['', t ? [[name, t]] : []];
}

/** Takes a weight out of the map (the decoder owns it from then on). */
export function take(weights: Map<string, Tensor>, name: string): Tensor {
  const t = weights.get(name);
  if (!t) throw new Error(`internal: weight "${name}" was not loaded`);
  weights.delete(name);
  return t;
}

export function takeOptional(weights: Map<string, Tensor>, name: string): Tensor | null {
  return weights.has(name) ? take(weights, name) : null;
}
