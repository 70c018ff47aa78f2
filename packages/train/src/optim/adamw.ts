/**
 * AdamW exactly as torch.optim.AdamW (amsgrad and maximize off): decoupled weight decay,
 * bias-corrected moments, a step count per parameter. The update itself is @lmflow/tensor's
 * fused `adamwUpdate` kernel; this file owns the state around it.
 *
 * State per parameter, created at its first step (so a parameter that never trains costs
 * nothing) and released when it stops training (LISA):
 *   exp_avg, exp_avg_sq  f32 moments (f64 for an f64 parameter on the reference backend)
 *   master               f32 copy of a bf16/f16 parameter: the kernel updates it in full
 *                        precision and rounds into the parameter, so small updates survive
 *   step                 updates applied to this parameter
 */
import type { Optimizer, ParamGroup } from '@lmflow/core';
import { adamwUpdate, keep, noGrad, zeros, type Tensor } from '@lmflow/tensor';
import { checkBaseForAbsoluteGroups, checkLearningRate, groupLearningRate, nonNegative, resolveGroups, unitInterval, type ResolvedGroup, freeGrads } from './param-groups.js';
import { groupStateByParam, numberField, ownedStateTensor, rejectExtraFields } from './state-dict.js';

export interface AdamWOptions {
  /** Base learning rate (the scheduler then sets it every step). @default 1e-3 */
  lr?: number;
  /** torch's betas[0]. @default 0.9 */
  beta1?: number;
  /** torch's betas[1]. @default 0.999 */
  beta2?: number;
  /** @default 1e-8 */
  eps?: number;
  /** Decoupled weight decay; groups override it (0 for norms and biases). @default 0.01 (torch's) */
  weightDecay?: number;
  /** Keep an f32 master copy of bf16/f16 parameters. @default true */
  masterWeights?: boolean;
}

/** Per-group options AdamW accepts in `ParamGroup.options` (plus `lr` or `lrScale`). */
interface AdamWGroupOptions extends Record<string, number> {
  weightDecay: number;
  beta1: number;
  beta2: number;
  eps: number;
}

interface AdamWParamState {
  step: number;
  expAvg: Tensor;
  expAvgSq: Tensor;
  master: Tensor | null;
}

export interface AdamW extends Optimizer {
  /** The run's current learning rate (the last setLearningRate, or the base). */
  readonly learningRate: number;
  /** The learning rate each group uses now, in group order. */
  groupLearningRates(): number[];
  /** Frees a parameter's state (it stopped training); returns whether it had any. */
  releaseState(name: string): boolean;
  /** Replaces the groups (LISA changed the trainable set); state of parameters no longer in them is released. */
  setParamGroups(groups: ParamGroup[]): void;
  /** Names of the parameters that hold state now. */
  stateNames(): string[];
  /** Frees all state. */
  dispose(): void;
}

const FIELDS = ['exp_avg_sq', 'exp_avg', 'master', 'step'] as const;
const NAME = 'AdamW';

export function createAdamW(groups: ParamGroup[], options: AdamWOptions = {}): AdamW {
  const base = options.lr ?? 1e-3;
  checkLearningRate(NAME, base, 'options.lr');
  const masterWeights = options.masterWeights ?? true;
  const defaults: AdamWGroupOptions = {
    weightDecay: options.weightDecay ?? 0.01,
    beta1: options.beta1 ?? 0.9,
    beta2: options.beta2 ?? 0.999,
    eps: options.eps ?? 1e-8,
  };
  const rules = { weightDecay: nonNegative, beta1: unitInterval, beta2: unitInterval, eps: nonNegative };
  let resolved: ResolvedGroup<AdamWGroupOptions>[] = [];
  let byName = new Map<string, Tensor>();
  const state = new Map<string, AdamWParamState>();
  let lr = base;

  function setGroups(next: ParamGroup[]): void {
    const checked = resolveGroups(NAME, next, defaults, rules);
    checkBaseForAbsoluteGroups(NAME, checked, base);
    resolved = checked;
    byName = new Map(checked.flatMap((g) => g.params));
    for (const name of [...state.keys()]) if (!byName.has(name)) release(name);
  }

  function needsMaster(param: Tensor): boolean {
    return masterWeights && (param.dtype === 'bf16' || param.dtype === 'f16');
  }

  // Moments match an f64 parameter (reference backend); otherwise f32, as the kernel requires.
  function stateDType(param: Tensor) {
    return param.dtype === 'f64' ? 'f64' : 'f32';
  }

  function initState(param: Tensor): AdamWParamState {
    const dtype = stateDType(param);
    // keep(): a step run inside tidy() must not free state that outlives it.
    const expAvg = keep(zeros(param.shape, { dtype, device: param.device }));
    const expAvgSq = keep(zeros(param.shape, { dtype, device: param.device }));
    const master = needsMaster(param) ? keep(param.cast('f32')) : null;
    return { step: 0, expAvg, expAvgSq, master };
  }

  function release(name: string): boolean {
    const s = state.get(name);
    if (!s) return false;
    s.expAvg.dispose();
    s.expAvgSq.dispose();
    s.master?.dispose();
    state.delete(name);
    return true;
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
          const { beta1, beta2, eps, weightDecay } = group.options;
          for (const [name, param] of group.params) {
            const grad = param.grad;
            if (!grad) continue; // torch skips parameters without a gradient
            let s = state.get(name);
            const created = !s;
            if (!s) state.set(name, (s = initState(param)));
            try {
              adamwUpdate(param, grad, s.expAvg, s.expAvgSq, { lr: groupLr, beta1, beta2, eps, weightDecay, step: s.step + 1, master: s.master });
              s.step += 1;
            } catch (error) {
              // The kernel checks everything before writing, so the state is as it was.
              if (created) release(name);
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
        out.set(`${name}.exp_avg`, s.expAvg);
        out.set(`${name}.exp_avg_sq`, s.expAvgSq);
        if (s.master) out.set(`${name}.master`, s.master);
        out.set(`${name}.step`, s.step);
      }
      return out;
    },

    loadStateDict(saved: Map<string, Tensor | number>) {
      const byParam = groupStateByParam(NAME, saved, byName, FIELDS);
      // Check and copy everything before replacing anything: a bad file leaves the state as it was.
      const loaded = new Map<string, AdamWParamState>();
      try {
        for (const [name, entry] of byParam) {
          const param = byName.get(name)!;
          const master = needsMaster(param);
          const expected = master ? ['exp_avg', 'exp_avg_sq', 'master', 'step'] : ['exp_avg', 'exp_avg_sq', 'step'];
          rejectExtraFields(NAME, name, entry, expected, master ? '' : `the parameter is ${param.dtype}${masterWeights ? '' : ' and master weights are off'}, so it has no master copy`);
          const step = numberField(NAME, name, entry, 'step', (v) => Number.isInteger(v) && v >= 1, 'an integer >= 1');
          const dtype = stateDType(param);
          const s: AdamWParamState = { step, expAvg: null!, expAvgSq: null!, master: null };
          loaded.set(name, s);
          s.expAvg = ownedStateTensor(NAME, name, entry, 'exp_avg', param, dtype);
          s.expAvgSq = ownedStateTensor(NAME, name, entry, 'exp_avg_sq', param, dtype);
          if (master) s.master = ownedStateTensor(NAME, name, entry, 'master', param, 'f32');
        }
      } catch (error) {
        for (const s of loaded.values()) for (const t of [s.expAvg, s.expAvgSq, s.master]) t?.dispose();
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
