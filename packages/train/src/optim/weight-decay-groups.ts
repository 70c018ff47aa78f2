/**
 * The usual split of trainable parameters for AdamW: weight decay on weight matrices and
 * embeddings, none on biases and normalization weights (transformers' Trainer does the same
 * with get_decay_parameter_names; decaying a norm's gain toward 0 only hurts).
 *
 * transformers finds norms by module type; here names decide, which covers the Hugging Face
 * names of every architecture we load: `*.bias`, any `*norm*` (input_layernorm, q_norm,
 * model.norm) and GPT-2's `ln_1`, `ln_2`, `ln_f`.
 */
import type { ParamGroup } from '@lmflow/core';
import type { Tensor } from '@lmflow/tensor';

export function isNoDecayParameter(name: string): boolean {
  const parts = name.split('.');
  const leaf = parts.at(-1) ?? '';
  const owner = parts.at(-2) ?? '';
  return leaf === 'bias' || /norm/i.test(owner) || /^ln(_|$)/.test(owner);
}

/** Two groups: [decayed with `weightDecay`, not decayed]; an empty group is left out. */
export function weightDecayGroups(params: Iterable<readonly [string, Tensor]>, weightDecay: number): ParamGroup[] {
  if (!(Number.isFinite(weightDecay) && weightDecay >= 0)) throw new Error(`weight_decay is ${weightDecay}, expected a finite number >= 0`);
  const decay: [string, Tensor][] = [];
  const noDecay: [string, Tensor][] = [];
  for (const [name, p] of params) (isNoDecayParameter(name) ? noDecay : decay).push([name, p]);
  const groups: ParamGroup[] = [];
  if (decay.length > 0) groups.push({ params: decay, options: { weightDecay } });
  if (noDecay.length > 0) groups.push({ params: noDecay, options: { weightDecay: 0 } });
  return groups;
}
