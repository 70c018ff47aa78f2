/**
 * SGD as torch.optim.SGD (maximize off), with in-place updates:
 *   d = grad + weightDecay * param                      (coupled weight decay)
 *   buf = d at the first step, then buf = momentum * buf + (1 - dampening) * d
 *   d = nesterov ? d + momentum * buf : buf             (when momentum > 0)
 *   param -= lr * d
 * bf16/f16 parameters keep an f32 master copy (as AdamW does): the update runs on it and
 * rounds into the parameter, so updates smaller than a bf16 step are not lost.
 */
import type { Optimizer, ParamGroup } from '@lmflow/core';
import { add_, copy_, keep, mul_, noGrad, type Tensor } from '@lmflow/tensor';
import { checkBaseForAbsoluteGroups, checkLearningRate, flag, groupLearningRate, nonNegative, resolveGroups, type ResolvedGroup, freeGrads } from './param-groups.js';
import { groupStateByParam, ownedStateTensor, rejectExtraFields } from './state-dict.js';

export interface SgdOptions {
  /** Base learning rate (the scheduler then sets it every step). @default 1e-3 (torch's) */
  lr?: number;
  /** @default 0 */
  momentum?: number;
  /** @default 0 */
  dampening?: number;
  /** Coupled (L2) weight decay, added to the gradient. @default 0 */
  weightDecay?: number;
  /** Nesterov momentum; needs momentum > 0 and dampening 0. @default false */
  nesterov?: boolean;
  /** Keep an f32 master copy of bf16/f16 parameters. @default true */
  masterWeights?: boolean;
}

interface SgdGroupOptions extends Record<string, number> {
  momentum: number;
  dampening: number;
  weightDecay: number;
  /** 0 or 1 (group options are numbers). */
  nesterov: number;
}

interface SgdParamState {
  momentumBuffer: Tensor | null;
  master: Tensor | null;
}

export interface Sgd extends Optimizer {
  readonly learningRate: number;
  groupLearningRates(): number[];
  releaseState(name: string): boolean;
  setParamGroups(groups: ParamGroup[]): void;
  stateNames(): string[];
  dispose(): void;
}

const FIELDS = ['momentum_buffer', 'master'] as const;
const NAME = 'SGD';

export function createSgd(groups: ParamGroup[], options: SgdOptions = {}): Sgd {
  const base = options.lr ?? 1e-3;
  checkLearningRate(NAME, base, 'options.lr');
  const masterWeights = options.masterWeights ?? true;
  const defaults: SgdGroupOptions = {
    momentum: options.momentum ?? 0,
    dampening: options.dampening ?? 0,
    weightDecay: options.weightDecay ?? 0,
    nesterov: options.nesterov ? 1 : 0,
  };
  const rules = { momentum: nonNegative, dampening: nonNegative, weightDecay: nonNegative, nesterov: flag };
  let resolved: ResolvedGroup<SgdGroupOptions>[] = [];
  let byName = new Map<string, Tensor>();
  const state = new Map<string, SgdParamState>();
  let lr = base;

  function setGroups(next: ParamGroup[]): void {
    const checked = resolveGroups(NAME, next, defaults, rules);
    checked.forEach((g, i) => {
      if (g.options.nesterov && (g.options.momentum <= 0 || g.options.dampening !== 0)) {
        throw new Error(`${NAME}: parameter group ${i}: nesterov momentum needs momentum > 0 and dampening 0, got momentum ${g.options.momentum} and dampening ${g.options.dampening}`);
      }
    });
    checkBaseForAbsoluteGroups(NAME, checked, base);
    resolved = checked;
    byName = new Map(checked.flatMap((g) => g.params));
    for (const name of [...state.keys()]) if (!byName.has(name)) release(name);
  }

  function needsMaster(param: Tensor): boolean {
    return masterWeights && (param.dtype === 'bf16' || param.dtype === 'f16');
  }

  function release(name: string): boolean {
    const s = state.get(name);
    if (!s) return false;
    s.momentumBuffer?.dispose();
    s.master?.dispose();
    state.delete(name);
    return true;
  }

  // One parameter's update; every temporary is freed here, state tensors are kept.
  function update(name: string, param: Tensor, grad: Tensor, o: SgdGroupOptions, groupLr: number): void {
    // Plain SGD on a full-precision parameter needs no state at all.
    let s = state.get(name);
    if (!s && (needsMaster(param) || o.momentum !== 0)) {
      state.set(name, (s = { momentumBuffer: null, master: needsMaster(param) ? keep(param.cast('f32')) : null }));
    }
    const weights = s?.master ?? param;
    const temps: Tensor[] = [];
    try {
      // d starts as the gradient in the weights' dtype; it is copied before any in-place change.
      let d = grad.dtype === weights.dtype ? grad : track(temps, grad.cast(weights.dtype));
      if (o.weightDecay !== 0) {
        d = add_(track(temps, d.clone()), weights, o.weightDecay);
      }
      if (s && o.momentum !== 0) {
        if (!s.momentumBuffer) {
          s.momentumBuffer = keep(d.clone());
        } else {
          add_(mul_(s.momentumBuffer, o.momentum), d, 1 - o.dampening);
        }
        d = o.nesterov ? add_(track(temps, d.clone()), s.momentumBuffer, o.momentum) : s.momentumBuffer;
      }
      add_(weights, d, -groupLr);
      if (s?.master) copy_(param, s.master);
    } finally {
      for (const t of temps) t.dispose();
    }
  }

  setGroups(groups);

  return {
    name: NAME,
    get learningRate() {
      return lr;
    },
    groupLearningRates: () => resolved.map((g) => groupLearningRate(g, lr, base)),

    step() {
      noGrad(() => {
        for (const group of resolved) {
          const groupLr = groupLearningRate(group, lr, base);
          for (const [name, param] of group.params) {
            if (!param.grad) continue;
            try {
              update(name, param, param.grad, group.options, groupLr);
            } catch (error) {
              throw new Error(`${NAME}: parameter "${name}": ${(error as Error).message}`, { cause: error });
            }
          }
        }
      });
    },

    zeroGrad() {
      freeGrads(byName.values());
    },

    setLearningRate(next: number) {
      checkLearningRate(NAME, next);
      lr = next;
    },

    stateDict() {
      const out = new Map<string, Tensor | number>();
      for (const [name, s] of state) {
        if (s.momentumBuffer) out.set(`${name}.momentum_buffer`, s.momentumBuffer);
        if (s.master) out.set(`${name}.master`, s.master);
      }
      return out;
    },

    loadStateDict(saved: Map<string, Tensor | number>) {
      const byParam = groupStateByParam(NAME, saved, byName, FIELDS);
      const loaded = new Map<string, SgdParamState>();
      try {
        for (const [name, entry] of byParam) {
          const param = byName.get(name)!;
          const master = needsMaster(param);
          rejectExtraFields(NAME, name, entry, master ? ['momentum_buffer', 'master'] : ['momentum_buffer'], master ? '' : `the parameter is ${param.dtype}, so it has no master copy`);
          const s: SgdParamState = { momentumBuffer: null, master: null };
          loaded.set(name, s);
          if (master) s.master = ownedStateTensor(NAME, name, entry, 'master', param, 'f32');
          if (entry.has('momentum_buffer')) {
            s.momentumBuffer = ownedStateTensor(NAME, name, entry, 'momentum_buffer', param, master ? 'f32' : param.dtype);
          }
        }
      } catch (error) {
        for (const s of loaded.values()) for (const t of [s.momentumBuffer, s.master]) t?.dispose();
        throw error;
      }
      for (const name of [...state.keys()]) release(name);
      for (const [name, s] of loaded) state.set(name, s);
    },

    releaseState: release,
    setParamGroups: setGroups,
    stateNames: () => [...state.keys()],
    dispose() {
      for (const name of [...state.keys()]) release(name);
    },
  };
}

function track(list: Tensor[], t: Tensor): Tensor {
  list.push(t);
  return t;
}
