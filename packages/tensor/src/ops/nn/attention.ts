/**
 * Scaled dot-product attention in the (B, T, H, D) layout models produce from their
 * projections, fused: no (T, S) score matrix is kept. The forward saves the output and the
 * log-sum-exp of each query row; the backward recomputes the probabilities from them.
 */
import type { AttentionOptions } from '../../backend.js';
import type { Tensor } from '../../tensor.js';
import { formatShape } from '../../shape.js';
import { record } from '../../autograd/node.js';
import { contiguousData, emptyLike, requireDType, requireFloat, sameDType, sameDevice } from '../util.js';
import { denseRowsInput, statsDType } from './kernel-views.js';

export interface ScaledDotProductAttentionOptions {
  /**
   * Query t sees key s only when s <= t + (S - T): a decoder's mask, aligned to the end
   * when T < S (new queries after a KV cache of S - T entries). @default false
   */
  causal?: boolean;
  /** Multiplies q.k before the softmax. @default 1 / sqrt(D) */
  scale?: number;
  /**
   * Segment ids (i32, (B, T)) of the queries: query t of batch b sees key s only when
   * qSegments[b, t] === kSegments[b, s]. Packed samples get distinct ids; padding keys an id
   * no query has. Give both or neither. @default none
   */
  qSegments?: Tensor;
  /** Segment ids (i32, (B, S)) of the keys; see qSegments. @default none */
  kSegments?: Tensor;
}

/**
 * softmax(scale * q k^T + mask) v per head. q: (B, T, Hq, D); k, v: (B, S, Hkv, D) with Hq a
 * multiple of Hkv (grouped-query attention: query head h reads kv head h / (Hq / Hkv)).
 * Returns (B, T, Hq, D); a query that sees no key gets 0.
 */
export function scaledDotProductAttention(q: Tensor, k: Tensor, v: Tensor, options: ScaledDotProductAttentionOptions = {}): Tensor {
  const op = 'scaledDotProductAttention';
  const { qSegments, kSegments } = options;
  sameDevice(op, q, k, v, ...(qSegments ? [qSegments] : []), ...(kSegments ? [kSegments] : []));
  for (const t of [q, k, v]) requireFloat(op, t);
  sameDType(op, q, k);
  sameDType(op, q, v);
  const names = ['q (B, T, Hq, D)', 'k (B, S, Hkv, D)', 'v (B, S, Hkv, D)'];
  [q, k, v].forEach((t, i) => {
    if (t.ndim !== 4) throw new Error(`${op}: ${names[i]} must have 4 dimensions, got ${t.describe()}`);
  });
  const [B, T, Hq, D] = q.shape as [number, number, number, number];
  const [, S, Hkv] = k.shape as [number, number, number, number];
  if (k.shape[0] !== B || k.shape[3] !== D) {
    throw new Error(`${op}: k ${formatShape(k.shape)} must be (B, S, Hkv, D) with B = ${B} and D = ${D} of q ${formatShape(q.shape)}`);
  }
  if (formatShape(v.shape) !== formatShape(k.shape)) {
    throw new Error(`${op}: v ${formatShape(v.shape)} must have the shape of k ${formatShape(k.shape)}`);
  }
  if (Hkv === 0 || Hq % Hkv !== 0) {
    throw new Error(`${op}: the ${Hq} query heads of q ${formatShape(q.shape)} must be a multiple of the ${Hkv} kv heads of k ${formatShape(k.shape)}`);
  }
  if (!qSegments !== !kSegments) throw new Error(`${op}: give both qSegments and kSegments, or neither`);
  if (qSegments && kSegments) {
    requireDType(op, qSegments, ['i32'], 'qSegments');
    requireDType(op, kSegments, ['i32'], 'kSegments');
    if (formatShape(qSegments.shape) !== formatShape([B, T])) {
      throw new Error(`${op}: qSegments must have shape ${formatShape([B, T])} (B, T of q ${formatShape(q.shape)}), got ${qSegments.describe()}`);
    }
    if (formatShape(kSegments.shape) !== formatShape([B, S])) {
      throw new Error(`${op}: kSegments must have shape ${formatShape([B, S])} (B, S of k ${formatShape(k.shape)}), got ${kSegments.describe()}`);
    }
  }
  const scale = options.scale ?? 1 / Math.sqrt(D);
  if (!Number.isFinite(scale)) throw new Error(`${op}: scale must be a finite number, got ${scale}`);
  const kernelOptions: AttentionOptions = { scale, causal: options.causal ?? false, qSegments: qSegments ?? null, kSegments: kSegments ?? null };

  const [qc, kc, vc] = [q, k, v].map(denseRowsInput) as [Tensor, Tensor, Tensor];
  const out = emptyLike(qc, [B, T, Hq, D]);
  const lse = emptyLike(qc, [B, Hq, T], statsDType(q));
  q.backend.attention(qc, kc, vc, out, lse, kernelOptions);
  const segments = qSegments && kSegments ? [qSegments, kSegments] : [];
  record(op, [qc, kc, vc], out, [qc, kc, vc, out, lse, ...segments], (g, saved, needs) => {
    const [qs, ks, vs, o, l, qseg, kseg] = saved as Tensor[];
    const dout = contiguousData(g);
    const dq = emptyLike(dout, qs!.shape);
    const dk = emptyLike(dout, ks!.shape);
    const dv = emptyLike(dout, vs!.shape);
    g.backend.attentionGrad(qs!, ks!, vs!, o!, l!, dout, dq, dk, dv, { ...kernelOptions, qSegments: qseg ?? null, kSegments: kseg ?? null });
    // All three come from one pass; those not needed are temporaries the tape frees.
    return [needs[0] ? dq : null, needs[1] ? dk : null, needs[2] ? dv : null];
  });
  lse.dispose();
  for (const [c, t] of [[qc, q], [kc, k], [vc, v]] as const) if (c !== t) c.dispose();
  return out;
}
