/**
 * Reference AdamW: torch.optim.AdamW's documented algorithm, literally, in float64. Each
 * stored value (param, master, m, v) is read, updated once in float64 and rounded back to its
 * storage dtype, as a device kernel rounds once per step.
 */
import type { OptimOps } from '../../backend.js';
import { read, write } from './strided.js';

export const referenceOptim: OptimOps = {
  adamw(param, grad, m, v, master, { lr, beta1, beta2, eps, weightDecay, step }) {
    const target = master ?? param;
    const p = read(target);
    const g = read(grad);
    const m1 = read(m);
    const v1 = read(v);
    const biasCorrection1 = 1 - beta1 ** step;
    const biasCorrection2 = 1 - beta2 ** step;
    for (let i = 0; i < p.length; i++) {
      // theta <- theta - lr * lambda * theta (decoupled weight decay, before the Adam step)
      let theta = p[i]! - lr * weightDecay * p[i]!;
      m1[i] = beta1 * m1[i]! + (1 - beta1) * g[i]!;
      v1[i] = beta2 * v1[i]! + (1 - beta2) * g[i]! * g[i]!;
      const mHat = m1[i]! / biasCorrection1;
      const vHat = v1[i]! / biasCorrection2;
      theta -= (lr * mHat) / (Math.sqrt(vHat) + eps);
      p[i] = theta;
    }
    write(m, m1);
    write(v, v1);
    write(target, p);
    // The param receives the master's rounded value, so that it equals cast(master).
    if (master) write(param, read(master));
  },
};
