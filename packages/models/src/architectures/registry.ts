/**
 * Architectures by config.json "model_type". A model_type not listed here is refused with the
 * list of those that are.
 */
import type { ModelConfig } from '@lmflow/core';
import type { Architecture } from './architecture.js';
import { llamaArchitecture } from './llama.js';
import { gpt2Architecture } from './gpt2.js';
import { ConfigError } from '../config/fields.js';

const ARCHITECTURES: readonly Architecture<any>[] = [llamaArchitecture, gpt2Architecture];

const byModelType = new Map<string, Architecture<any>>(ARCHITECTURES.flatMap((a) => a.modelTypes.map((t) => [t, a] as const)));

/** The model_type values this package builds. */
export function supportedModelTypes(): string[] {
  return [...byModelType.keys()];
}

export function architectureFor(config: { model_type?: unknown }, file: string): Architecture<ModelConfig> {
  const type = config.model_type;
  const architecture = typeof type === 'string' ? byModelType.get(type) : undefined;
  if (!architecture) {
    const found = type === undefined ? 'is missing' : `is ${JSON.stringify(type)}`;
    throw new ConfigError(`config.json ${file}: "model_type" ${found}, which @lmflow/models does not support; supported model types: ${supportedModelTypes().join(', ')}`);
  }
  return architecture;
}

/** Parses config.json contents into the typed config of its architecture. */
export function parseModelConfig(raw: unknown, file: string): ModelConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError(`config.json ${file}: expected a JSON object`);
  return architectureFor(raw, file).parseConfig(raw as ModelConfig, file);
}
