/**
 * Which linear modules get an adapter, with PEFT's matching rules so a target list means the
 * same here and in Python:
 *   - a list of names: a module matches when its path equals a name or ends with "." + name
 *     ("q_proj" matches "model.layers.0.self_attn.q_proj"; "attn.c_proj" only GPT-2's
 *     attention projection, not "mlp.c_proj");
 *   - one string: a regular expression the whole module path must match;
 *   - "all-linear": every linear layer but the output layer (lm_head), as PEFT.
 */
import { LoraError } from './lora-error.js';

export const ALL_LINEAR = 'all-linear';

/** A list of module names (suffix match), or one regular expression (whole-path match). */
export type TargetModules = string | readonly string[];

const LLAMA_ATTENTION = ['q_proj', 'k_proj', 'v_proj', 'o_proj'] as const;

/**
 * The attention projections of each architecture: the default when no targets are given.
 * (PEFT's own default for Llama is q_proj and v_proj only; all four train better for the
 * same few parameters, as the QLoRA paper and LMFlow's examples use.)
 */
export const DEFAULT_TARGET_MODULES: Readonly<Record<string, readonly string[]>> = Object.freeze({
  llama: LLAMA_ATTENTION,
  mistral: LLAMA_ATTENTION,
  qwen2: LLAMA_ATTENTION,
  qwen3: LLAMA_ATTENTION,
  // GPT-2's fused q/k/v projection and the attention output (its MLP has a c_proj too).
  gpt2: ['c_attn', 'attn.c_proj'],
});

/** The targets to use for a model: the given ones, else the architecture's default. */
export function resolveTargetModules(given: TargetModules | undefined, modelType: string): TargetModules {
  if (given !== undefined) return given;
  const byDefault = DEFAULT_TARGET_MODULES[modelType];
  if (!byDefault) {
    throw new LoraError(
      `no default LoRA target modules for model_type "${modelType}" (defaults exist for ${Object.keys(DEFAULT_TARGET_MODULES).join(', ')}); ` +
        'name them with --lora_target_modules (module names such as q_proj v_proj, or all-linear)',
    );
  }
  return byDefault;
}

/** The name of the output layer, which "all-linear" leaves out. */
const OUTPUT_LAYER = 'lm_head';

export function isTargeted(moduleName: string, targets: TargetModules): boolean {
  if (isAllLinear(targets)) return moduleName !== OUTPUT_LAYER;
  if (typeof targets === 'string') return new RegExp(`^(?:${targets})$`).test(moduleName);
  return targets.some((name) => moduleName === name || moduleName.endsWith(`.${name}`));
}

export function isAllLinear(targets: TargetModules): boolean {
  return targets === ALL_LINEAR || (Array.isArray(targets) && targets.length === 1 && targets[0] === ALL_LINEAR);
}

/**
 * Checks targets given by a user before any model is loaded: names are non-empty, a string
 * is a valid regular expression, "all-linear" is not mixed with names.
 */
export function checkTargetModules(targets: TargetModules, where: string): void {
  if (typeof targets === 'string') {
    if (targets === ALL_LINEAR) return;
    try {
      new RegExp(targets);
    } catch (error) {
      throw new LoraError(`${where}: ${JSON.stringify(targets)} is not a valid regular expression (${(error as Error).message})`);
    }
    return;
  }
  if (!Array.isArray(targets) || targets.length === 0) throw new LoraError(`${where}: expected one or more module names (q_proj v_proj), a regular expression, or all-linear`);
  for (const name of targets) {
    if (typeof name !== 'string' || name.trim() === '') throw new LoraError(`${where}: ${JSON.stringify(name)} is not a module name`);
    if (name === ALL_LINEAR && targets.length > 1) throw new LoraError(`${where}: all-linear already names every linear layer; give it alone`);
  }
}

/** The last part of a module path ("q_proj"), which PEFT writes for "all-linear". */
export function shortName(moduleName: string): string {
  return moduleName.slice(moduleName.lastIndexOf('.') + 1);
}
