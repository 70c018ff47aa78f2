/**
 * Gradient checkpointing: run a segment without keeping its activations, and run it again
 * during backward to get them. Memory for a deep model drops from one set of activations
 * per layer to one per segment boundary, at the cost of a second forward.
 *
 * Random ops inside the segment draw the same numbers on recompute (the default generator
 * is rewound to where the forward found it), so dropout masks match.
 */
import { Tensor } from '../tensor.js';
import { defaultGenerator } from '../random.js';
import { enableGrad, isGradEnabled, noGrad } from './grad-mode.js';
import { record } from './node.js';
import { backward } from './backward.js';

let firstPasses = 0;

/**
 * Whether code runs inside checkpoint()'s first pass: autograd is off there (isGradEnabled() is
 * false), yet it is a training forward that backward will replay. Code that behaves differently
 * in training (dropout) must act as in training here, or the replay computes another function.
 */
export function isCheckpointing(): boolean {
  return firstPasses > 0;
}

/**
 * Returns fn(...inputs), recording one node whose backward recomputes fn. fn must be a pure
 * function of its inputs and of parameters it closes over (their gradients accumulate into
 * their .grad during the recompute), and return one tensor. Pass every other tensor fn uses
 * as an input: inputs are kept for the recompute, while a temporary fn merely closes over
 * may be disposed (by a tidy scope) before backward runs.
 */
export function checkpoint(fn: (...inputs: Tensor[]) => Tensor, ...inputs: Tensor[]): Tensor {
  for (const t of inputs) t.assertLive('checkpoint');
  if (!isGradEnabled()) return fn(...inputs);
  const rng = defaultGenerator.getState();
  firstPasses++;
  let output: Tensor;
  try {
    output = noGrad(() => fn(...inputs));
  } finally {
    firstPasses--;
  }
  return record('checkpoint', inputs, output, inputs, (grad, saved, needs) => {
    const resume = defaultGenerator.getState();
    defaultGenerator.setState(rng);
    try {
      const detached = saved.map((t, i) => {
        const d = t.detach();
        if (needs[i]) d.requiresGrad = true;
        return d;
      });
      let recomputed: Tensor;
      try {
        recomputed = enableGrad(() => fn(...detached));
      } catch (error) {
        if (error instanceof Error && /was disposed/.test(error.message)) {
          error.message += ' (while checkpoint() recomputed its segment: pass the tensors the segment uses as inputs of checkpoint(), not through a closure)';
        }
        throw error;
      }
      if (recomputed.requiresGrad) backward(recomputed, { gradient: grad });
      recomputed.dispose();
      return detached.map((d) => {
        const g = d.grad;
        d.grad = null;
        d.dispose();
        return g;
      });
    } finally {
      defaultGenerator.setState(resume);
    }
  }, { force: true });
}
