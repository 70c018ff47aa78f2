/**
 * Dropout: zeroes each element with probability p and scales the rest by 1 / (1 - p).
 *
 * The mask is never stored. It comes from the counter-based generator (src/random.ts): the
 * op takes a (seed, offset) range from the generator and the backward draws the same mask
 * again from it. Checkpointed segments rewind the default generator before recomputing, so
 * their dropout masks match the first forward as well.
 */
import type { Backend, View } from '../../backend.js';
import type { Tensor } from '../../tensor.js';
import { record } from '../../autograd/node.js';
import { defaultGenerator, type Generator } from '../../random.js';
import { emptyLike, requireFloat } from '../util.js';
import { contiguous } from '../views.js';

export interface DropoutOptions {
  /** Apply dropout; false (evaluation) returns the input unchanged. @default true */
  training?: boolean;
  /** The random stream of the mask. @default the default generator (see manualSeed) */
  generator?: Generator;
}

/** x * mask / (1 - p) with mask[i] = 1 with probability 1 - p (element i of x in row-major order). */
export function dropout(x: Tensor, p: number, options: DropoutOptions = {}): Tensor {
  const op = 'dropout';
  x.assertLive(op);
  requireFloat(op, x);
  if (!(p >= 0 && p <= 1)) throw new Error(`${op}: p must be in [0, 1], got ${p}`);
  const { training = true, generator = defaultGenerator } = options;
  // A new handle on the same data (a copy only when x is not contiguous), as torch returns x.
  if (!training || p === 0) return contiguous(x);
  const { seed, offset } = generator.take(x.size);
  const out = emptyLike(x);
  applyMask(x.backend, x, out, p, seed, offset);
  return record(op, [x], out, [], (g) => {
    const dx = emptyLike(g);
    applyMask(g.backend, g, dx, p, seed, offset);
    return [dx];
  });
}

// out = x * mask / (1 - p), the mask drawn from counters offset, offset + 1, ... under seed.
function applyMask(backend: Backend, x: View, out: Tensor, p: number, seed: number, offset: number): void {
  if (p === 1) {
    backend.fill(out, 0);
    return;
  }
  if (backend.dropout) {
    backend.dropout(x, out, p, seed, offset);
    return;
  }
  const mask = emptyLike(out);
  backend.random(mask, 'bernoulli', 1 - p, 0, seed, offset);
  const kept = emptyLike(out);
  backend.binary('mul', x, mask, kept);
  backend.scalar('mul', kept, 1 / (1 - p), out);
  mask.dispose();
  kept.dispose();
}
