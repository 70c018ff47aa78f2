/**
 * A checkpoint's tensors checked against what an architecture needs: Hugging Face names
 * (base-model checkpoints without the "model." / "transformer." prefix are accepted), shapes
 * from config.json, nothing missing and nothing unexpected. The only tensors skipped are
 * buffers transformers derives rather than learns (listed per architecture), and lm_head.weight
 * when tie_word_embeddings is set (transformers ties it to the embedding and ignores it too).
 */
import type { Tensor } from '@lmflow/tensor';
import type { ModelConfig } from '@lmflow/core';

export interface WeightRules {
  /** "model" or "transformer": the base model's prefix. */
  readonly baseModelPrefix: string;
  /** Derived buffers that some checkpoints carry (causal masks, RoPE inverse frequencies). */
  readonly derivedBuffers: readonly RegExp[];
}

/**
 * Renames, filters and checks loaded tensors in place. `expected` maps each needed name to its
 * shape as stored. Disposes what it drops; on error disposes everything.
 */
export function checkWeights(
  tensors: Map<string, Tensor>,
  expected: ReadonlyMap<string, readonly number[]>,
  rules: WeightRules,
  config: ModelConfig,
  where: string,
): Map<string, Tensor> {
  try {
    const named = addBasePrefix(tensors, rules.baseModelPrefix);
    for (const [name, t] of named) {
      const derived = rules.derivedBuffers.some((re) => re.test(name));
      const tiedHead = name === 'lm_head.weight' && config.tie_word_embeddings === true && !expected.has(name);
      if (derived || tiedHead) {
        t.dispose();
        named.delete(name);
      }
    }
    const missing = [...expected.keys()].filter((n) => !named.has(n));
    if (missing.length > 0) {
      throw new Error(`${where}: the checkpoint lacks ${list(missing)}, which a ${config.model_type} model with this config.json needs`);
    }
    const unexpected = [...named.keys()].filter((n) => !expected.has(n));
    if (unexpected.length > 0) {
      throw new Error(
        `${where}: the checkpoint holds ${list(unexpected)}, which a ${config.model_type} model with this config.json does not have ` +
          '(a different architecture or config, or an adapter that needs its plugin)',
      );
    }
    for (const [name, shape] of expected) {
      const t = named.get(name)!;
      if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
        throw new Error(`${where}: tensor "${name}" has shape [${t.shape.join(', ')}], but config.json implies [${shape.join(', ')}]`);
      }
    }
    return named;
  } catch (error) {
    for (const t of tensors.values()) if (!t.isDisposed) t.dispose();
    throw error;
  }
}

/**
 * A checkpoint saved from the base model (GPT2Model, LlamaModel) names tensors without the
 * prefix ("wte.weight" for "transformer.wte.weight"), as the openai-community/gpt2 weights do.
 */
function addBasePrefix(tensors: Map<string, Tensor>, prefix: string): Map<string, Tensor> {
  const withPrefix = `${prefix}.`;
  const names = [...tensors.keys()];
  if (names.some((n) => n.startsWith(withPrefix))) return tensors;
  return new Map(names.map((n) => [n.startsWith('lm_head.') ? n : `${withPrefix}${n}`, tensors.get(n)!]));
}

function list(names: string[]): string {
  const shown = names.slice(0, 6).map((n) => `"${n}"`).join(', ');
  return names.length > 6 ? `${shown} and ${names.length - 6} more` : shown;
}
