/**
 * Rotary position embedding (RoPE): ropeInvFreq builds the inverse frequencies exactly as
 * Hugging Face does, rope rotates (B, T, H, D) queries or keys by position. The rotation is
 * orthogonal, so its backward is the same kernel rotating the other way.
 */
import type { Tensor } from '../../tensor.js';
import { formatShape } from '../../shape.js';
import { record } from '../../autograd/node.js';
import { tensor } from '../creation.js';
import { expandedView, contiguousData, emptyLike, requireDType, requireFloat, sameDevice } from '../util.js';
import { denseRowsInput } from './kernel-views.js';

export interface RopeInvFreqOptions {
  /** Where the tensor goes. @default the default device */
  device?: string;
}

/**
 * The (headDim / 2) inverse frequencies 1 / theta^(2i / headDim) as an f32 tensor, rounded
 * step by step as Hugging Face computes them in f32: the exponent (2i / d), the power, then
 * the reciprocal (Llama: theta 10000; Llama 3: 500000).
 */
export function ropeInvFreq(headDim: number, theta = 10000, options: RopeInvFreqOptions = {}): Tensor {
  if (!Number.isInteger(headDim) || headDim <= 0 || headDim % 2 !== 0) {
    throw new Error(`ropeInvFreq: headDim must be a positive even integer, got ${headDim}`);
  }
  if (!(theta > 0) || !Number.isFinite(theta)) throw new Error(`ropeInvFreq: theta must be a positive number, got ${theta}`);
  const values = new Float32Array(headDim / 2);
  const base = Math.fround(theta);
  for (let i = 0; i < values.length; i++) {
    // (2i / d) and the power are f32 operations in torch; f64 then one rounding gives the
    // same f32 here (a double rounding of a division is exact, and of pow all but never off).
    const exponent = Math.fround((2 * i) / headDim);
    values[i] = 1 / Math.fround(Math.pow(base, exponent));
  }
  return tensor(values, { dtype: 'f32', device: options.device });
}

export interface RotaryEmbeddingOptions {
  /**
   * false: Hugging Face's rotate_half layout, pairing dimension i with i + D/2 (Llama, Qwen,
   * Mistral checkpoints); true: pairs (2i, 2i + 1) as in the original RoPE and GPT-J.
   * @default false
   */
  interleaved?: boolean;
  /** Multiplies cos and sin (YaRN's attention factor). @default 1 */
  scale?: number;
}

/**
 * Rotates x (B, T, H, D) by angle positions[b, t] * invFreq[i] (an f32 product, as Hugging
 * Face computes it). positions: i32, (B, T) or anything broadcasting to it, such as (T);
 * invFreq: f32 (D / 2), treated as a constant (it gets no gradient).
 */
export function rope(x: Tensor, positions: Tensor, invFreq: Tensor, options: RotaryEmbeddingOptions = {}): Tensor {
  const op = 'rope';
  sameDevice(op, x, positions, invFreq);
  requireFloat(op, x);
  if (x.ndim !== 4) throw new Error(`${op}: x must have 4 dimensions (B, T, H, D), got ${x.describe()}`);
  const [B, T, , D] = x.shape as [number, number, number, number];
  if (D % 2 !== 0) throw new Error(`${op}: the head size D must be even, got x ${x.describe()}`);
  requireDType(op, positions, ['i32'], 'positions');
  const lead = 2 - positions.ndim;
  if (lead < 0 || positions.shape.some((d, i) => d !== 1 && d !== [B, T][i + lead])) {
    throw new Error(`${op}: positions ${positions.describe()} must broadcast to (B, T) = ${formatShape([B, T])} of x ${x.describe()}`);
  }
  requireDType(op, invFreq, ['f32'], 'invFreq');
  if (invFreq.ndim !== 1 || invFreq.shape[0] !== D / 2) {
    throw new Error(`${op}: invFreq must have shape [${D / 2}] (D / 2 for x ${x.describe()}), got ${invFreq.describe()}`);
  }
  const scale = options.scale ?? 1;
  if (!Number.isFinite(scale)) throw new Error(`${op}: scale must be a finite number, got ${scale}`);
  const interleaved = options.interleaved ?? false;

  const xc = denseRowsInput(x);
  const pos = expandedView(positions, [B, T]);
  const out = emptyLike(xc);
  x.backend.rope(xc, pos, invFreq, out, { interleaved, inverse: false, scale });
  record(op, [xc], out, [positions, invFreq], (g, [p, inv]) => {
    const dy = contiguousData(g);
    const dx = emptyLike(dy);
    // The transpose of a rotation by angle a (times scale) is the rotation by -a (times scale).
    g.backend.rope(dy, expandedView(p!, [B, T]), inv!, dx, { interleaved, inverse: true, scale });
    return [dx];
  });
  if (xc !== x) xc.dispose();
  return out;
}
