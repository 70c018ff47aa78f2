/**
 * Parameter groups as the optimizers see them: each group's options checked once, with the
 * optimizer's defaults filled in, and its learning rate derived from the scheduled one.
 *
 * A group sets its learning rate either as a multiplier of the run's (`lrScale`, LoRA+ style)
 * or as an absolute value (`lr`). The scheduler sets one learning rate for the run; like
 * torch's LambdaLR, which scales every group's initial lr by the same factor, an absolute
 * group follows the schedule in proportion to the base learning rate.
 */
import type { ParamGroup } from '@lmflow/core';
import type { Tensor } from '@lmflow/tensor';

export interface ResolvedGroup<O> {
  params: [string, Tensor][];
  /** The group's options with the optimizer's defaults filled in. */
  options: O;
  /** Absolute base learning rate, or null when the group scales the run's (lrScale). */
  absoluteLr: number | null;
  lrScale: number;
}

/** How one option is checked: a predicate and what it expects, for the error message. */
export interface OptionRule {
  check(value: number): boolean;
  expected: string;
}

export const nonNegative: OptionRule = { check: (v) => Number.isFinite(v) && v >= 0, expected: 'a finite number >= 0' };
export const unitInterval: OptionRule = { check: (v) => v >= 0 && v < 1, expected: 'a number in [0, 1)' };
export const flag: OptionRule = { check: (v) => v === 0 || v === 1, expected: '0 or 1' };

/**
 * Checks the groups (known option keys, valid values, each parameter in one group only,
 * parameters that can be updated in place) and fills in defaults.
 * `rules` lists the optimizer-specific options; `lr` and `lrScale` are always allowed.
 */
export function resolveGroups<O extends Record<string, number>>(
  optimizer: string,
  groups: readonly ParamGroup[],
  defaults: O,
  rules: Record<keyof O, OptionRule>,
): ResolvedGroup<O>[] {
  if (!Array.isArray(groups)) throw new Error(`${optimizer}: expected an array of parameter groups, got ${typeof groups}`);
  const valid = ['lr', 'lrScale', ...Object.keys(rules)];
  const seen = new Map<string, number>();
  return groups.map((group, g) => {
    const where = `${optimizer}: parameter group ${g}`;
    if (!group || !Array.isArray(group.params)) throw new Error(`${where}: "params" must be an array of [name, tensor] pairs`);
    const given = group.options ?? {};
    for (const [key, value] of Object.entries(given)) {
      if (!valid.includes(key)) throw new Error(`${where}: unknown option "${key}"; valid options are ${valid.join(', ')}`);
      if (typeof value !== 'number') throw new Error(`${where}: option "${key}" is ${JSON.stringify(value)}, expected a number`);
    }
    if (given.lr !== undefined && given.lrScale !== undefined) {
      throw new Error(`${where}: sets both "lr" (${given.lr}) and "lrScale" (${given.lrScale}); set an absolute lr or a multiplier of the run's, not both`);
    }
    const options = { ...defaults };
    for (const key of Object.keys(rules) as (keyof O)[]) {
      const value = (given[key as string] ?? defaults[key]) as number;
      if (!rules[key].check(value)) throw new Error(`${where}: option "${String(key)}" is ${value}, expected ${rules[key].expected}`);
      options[key] = value as O[keyof O];
    }
    const absoluteLr = given.lr ?? null;
    if (absoluteLr !== null && !nonNegative.check(absoluteLr)) throw new Error(`${where}: option "lr" is ${absoluteLr}, expected ${nonNegative.expected}`);
    const lrScale = given.lrScale ?? 1;
    if (!nonNegative.check(lrScale)) throw new Error(`${where}: option "lrScale" is ${lrScale}, expected ${nonNegative.expected}`);
    for (const pair of group.params) {
      const [name, param] = pair ?? [];
      if (typeof name !== 'string' || !param || typeof param !== 'object') throw new Error(`${where}: each entry of "params" must be a [name, tensor] pair`);
      const other = seen.get(name);
      if (other !== undefined) throw new Error(`${where}: parameter "${name}" is already in group ${other}; each parameter belongs to one group`);
      seen.set(name, g);
      if (!param.isContiguous()) throw new Error(`${where}: parameter "${name}" ${param.describe()} is not contiguous; optimizers update parameters in place`);
    }
    const params: [string, Tensor][] = group.params.map(([name, p]: [string, Tensor]) => [name, p]);
    return { params, options, absoluteLr, lrScale };
  });
}

/**
 * The learning rate of a group when the run's is `lr` (base: the run's learning rate at
 * construction). Groups without overrides get `lr` itself, bit for bit, as torch would.
 */
export function groupLearningRate(group: ResolvedGroup<Record<string, number>>, lr: number, base: number): number {
  if (group.absoluteLr === null) return group.lrScale === 1 ? lr : lr * group.lrScale;
  return group.absoluteLr * (lr / base);
}

export function checkLearningRate(optimizer: string, lr: number, what = 'learning rate'): void {
  if (!(typeof lr === 'number' && Number.isFinite(lr) && lr >= 0)) {
    throw new Error(`${optimizer}: ${what} is ${lr}, expected a finite number >= 0`);
  }
}

/** Absolute-lr groups scale by lr / base, undefined when the base learning rate is 0. */
export function checkBaseForAbsoluteGroups(optimizer: string, groups: ResolvedGroup<Record<string, number>>[], base: number): void {
  const g = groups.findIndex((group) => group.absoluteLr !== null);
  if (g >= 0 && base === 0) {
    throw new Error(`${optimizer}: parameter group ${g} sets an absolute "lr" but the base learning rate is 0, so the schedule's factor (lr / base) is undefined; give a base learning rate > 0 or use "lrScale"`);
  }
}

/** Frees the gradients (torch's zero_grad(set_to_none=True)): their memory returns before the next forward. */
export function freeGrads(params: Iterable<Tensor>): void {
  for (const param of params) {
    param.grad?.dispose();
    param.grad = null;
  }
}
