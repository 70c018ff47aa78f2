/**
 * Reference nn kernels: softmax, norms, rotary embedding, attention and cross-entropy as
 * plain float64 loops over dense copies of the inputs (see strided.ts). They follow the
 * contract in backend.ts literally, including its f32 steps (rope angles, Llama's rounding
 * of the normalised value), and are the oracle the native kernels are tested against.
 *
 * The gradients of attention and cross-entropy recompute the softmax from the inputs in
 * float64 rather than reading the saved lse (an f32 shortcut of the fast kernels), so they are
 * exact gradients; the norm gradients have no eps and use the saved statistics.
 */
import type { AttentionOptions, CrossEntropyOptions, NnOps, View } from '../../backend.js';
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16, type DType } from '../../dtype.js';
import { formatShape, numel } from '../../shape.js';
import { read, toF32, write } from './strided.js';

/** v rounded to the precision of dtype (f64 and integers unchanged). */
function roundTo(dtype: DType, v: number): number {
  switch (dtype) {
    case 'f32':
      return toF32(v);
    case 'bf16':
      return bf16ToF32(f32ToBf16(v));
    case 'f16':
      return f16ToF32(f32ToF16(v));
    default:
      return v;
  }
}

/** Rows of the last dimension: [rows, n]. */
function rowsOf(view: View): [number, number] {
  const n = view.shape.length ? view.shape[view.shape.length - 1]! : 1;
  return [n === 0 ? 0 : numel(view.shape) / n, n];
}

function softmaxRow(x: Float64Array, start: number, valid: number, scale: number, y: Float64Array): void {
  if (valid <= 0) return; // y is zero-filled: a row that sees nothing has probability 0 everywhere
  let m = -Infinity;
  for (let i = 0; i < valid; i++) m = Math.max(m, scale * x[start + i]!);
  let s = 0;
  for (let i = 0; i < valid; i++) s += (y[start + i] = Math.exp(scale * x[start + i]! - m));
  for (let i = 0; i < valid; i++) y[start + i]! /= s;
}

function logSumExp(x: Float64Array, start: number, n: number): number {
  let m = -Infinity;
  for (let i = 0; i < n; i++) m = Math.max(m, x[start + i]!);
  let s = 0;
  for (let i = 0; i < n; i++) s += Math.exp(x[start + i]! - m);
  return m + Math.log(s);
}

function checkTargets(op: string, targets: Float64Array, n: number, v: number, ignoreIndex: number): void {
  for (let r = 0; r < n; r++) {
    const c = targets[r]!;
    if (c !== ignoreIndex && (c < 0 || c >= v)) {
      throw new Error(`${op}: target ${c} of row ${r} is outside [0, ${v}) and is not ignoreIndex (${ignoreIndex})`);
    }
  }
}

/** Whether query t of batch b sees key s. */
function visible(o: AttentionOptions, T: number, S: number, qseg: Float64Array | null, kseg: Float64Array | null, b: number, t: number, s: number): boolean {
  if (o.causal && s > t + S - T) return false;
  if (qseg && kseg && qseg[b * T + t] !== kseg[b * S + s]) return false;
  return true;
}

interface AttnDims { B: number; T: number; S: number; Hq: number; Hkv: number; D: number }

function attnDims(op: string, q: View, k: View, v: View): AttnDims {
  if (q.shape.length !== 4 || k.shape.length !== 4 || v.shape.length !== 4) {
    throw new Error(`${op}: q, k, v must be (B, T, H, D), got ${formatShape(q.shape)}, ${formatShape(k.shape)}, ${formatShape(v.shape)}`);
  }
  const [B, T, Hq, D] = q.shape as [number, number, number, number];
  const [, S, Hkv] = k.shape as [number, number, number, number];
  if (k.shape[0] !== B || k.shape[3] !== D || formatShape(k.shape) !== formatShape(v.shape) || Hkv === 0 || Hq % Hkv !== 0) {
    throw new Error(`${op}: k ${formatShape(k.shape)} and v ${formatShape(v.shape)} must be (B, S, Hkv, D) for q ${formatShape(q.shape)}, with Hq a multiple of Hkv`);
  }
  return { B, T, S, Hq, Hkv, D };
}

/** Scaled scores of query (b, t, h) against every key, -Infinity where masked. */
function attnScores(d: AttnDims, o: AttentionOptions, qd: Float64Array, kd: Float64Array, qseg: Float64Array | null, kseg: Float64Array | null, b: number, t: number, h: number): Float64Array {
  const { T, S, Hq, Hkv, D } = d;
  const hk = Math.floor(h / (Hq / Hkv));
  const scores = new Float64Array(S).fill(-Infinity);
  const qo = ((b * T + t) * Hq + h) * D;
  for (let s = 0; s < S; s++) {
    if (!visible(o, T, S, qseg, kseg, b, t, s)) continue;
    const ko = ((b * S + s) * Hkv + hk) * D;
    let dot = 0;
    for (let i = 0; i < D; i++) dot += qd[qo + i]! * kd[ko + i]!;
    scores[s] = o.scale * dot;
  }
  return scores;
}

/** Softmax of masked scores and their log-sum-exp; all zero and -Infinity when nothing is visible. */
function maskedSoftmax(scores: Float64Array): { p: Float64Array; lse: number } {
  const p = new Float64Array(scores.length);
  let m = -Infinity;
  for (const s of scores) m = Math.max(m, s);
  if (m === -Infinity) return { p, lse: -Infinity };
  let sum = 0;
  for (let s = 0; s < scores.length; s++) sum += (p[s] = Math.exp(scores[s]! - m));
  for (let s = 0; s < scores.length; s++) p[s]! /= sum;
  return { p, lse: m + Math.log(sum) };
}

export const referenceNn: NnOps = {
  softmax(x, out, { scale, causal }) {
    const xs = read(x);
    const [rows, n] = rowsOf(x);
    const tq = causal ? x.shape[x.shape.length - 2]! : 1;
    const y = new Float64Array(xs.length);
    for (let r = 0; r < rows; r++) {
      const valid = causal ? Math.min(n, (r % tq) + n - tq + 1) : n;
      softmaxRow(xs, r * n, valid, scale, y);
    }
    write(out, y);
  },

  softmaxGrad(y, dy, out, { scale }) {
    const ys = read(y);
    const ds = read(dy);
    const [rows, n] = rowsOf(y);
    const dx = new Float64Array(ys.length);
    for (let r = 0; r < rows; r++) {
      let dot = 0;
      for (let i = 0; i < n; i++) dot += ds[r * n + i]! * ys[r * n + i]!;
      for (let i = 0; i < n; i++) dx[r * n + i] = scale * ys[r * n + i]! * (ds[r * n + i]! - dot);
    }
    write(out, dx);
  },

  logSoftmax(x, out) {
    const xs = read(x);
    const [rows, n] = rowsOf(x);
    const y = new Float64Array(xs.length);
    for (let r = 0; r < rows; r++) {
      const lse = logSumExp(xs, r * n, n);
      for (let i = 0; i < n; i++) y[r * n + i] = xs[r * n + i]! - lse;
    }
    write(out, y);
  },

  logSoftmaxGrad(y, dy, out) {
    const ys = read(y);
    const ds = read(dy);
    const [rows, n] = rowsOf(y);
    const dx = new Float64Array(ys.length);
    for (let r = 0; r < rows; r++) {
      let sum = 0;
      for (let i = 0; i < n; i++) sum += ds[r * n + i]!;
      for (let i = 0; i < n; i++) dx[r * n + i] = ds[r * n + i]! - Math.exp(ys[r * n + i]!) * sum;
    }
    write(out, dx);
  },

  rmsNorm(x, weight, eps, out, rstd) {
    const xs = read(x);
    const w = weight ? read(weight) : null;
    const [rows, n] = rowsOf(x);
    const y = new Float64Array(xs.length);
    const rs = new Float64Array(rows);
    for (let r = 0; r < rows; r++) {
      let ss = 0;
      for (let i = 0; i < n; i++) ss += xs[r * n + i]! ** 2;
      rs[r] = 1 / Math.sqrt(ss / n + eps);
      for (let i = 0; i < n; i++) {
        const normed = roundTo(x.dtype, xs[r * n + i]! * rs[r]!);
        y[r * n + i] = w ? normed * w[i]! : normed;
      }
    }
    write(out, y);
    write(rstd, rs);
  },

  rmsNormGrad(x, weight, rstd, dy, dx, dweight) {
    const xs = read(x);
    const w = weight ? read(weight) : null;
    const rs = read(rstd);
    const ds = read(dy);
    const [rows, n] = rowsOf(x);
    const gx = new Float64Array(xs.length);
    const gw = new Float64Array(n);
    for (let r = 0; r < rows; r++) {
      const o = r * n;
      let c = 0;
      for (let i = 0; i < n; i++) c += ds[o + i]! * (w ? w[i]! : 1) * xs[o + i]! * rs[r]!;
      c /= n;
      for (let i = 0; i < n; i++) {
        const normed = xs[o + i]! * rs[r]!;
        gx[o + i] = rs[r]! * (ds[o + i]! * (w ? w[i]! : 1) - normed * c);
        gw[i] += ds[o + i]! * roundTo(x.dtype, normed);
      }
    }
    write(dx, gx);
    if (dweight) write(dweight, gw);
  },

  layerNorm(x, weight, bias, eps, out, mean, rstd) {
    const xs = read(x);
    const w = weight ? read(weight) : null;
    const b = bias ? read(bias) : null;
    const [rows, n] = rowsOf(x);
    const y = new Float64Array(xs.length);
    const ms = new Float64Array(rows);
    const rs = new Float64Array(rows);
    for (let r = 0; r < rows; r++) {
      const o = r * n;
      let s = 0;
      for (let i = 0; i < n; i++) s += xs[o + i]!;
      ms[r] = s / n;
      let v = 0;
      for (let i = 0; i < n; i++) v += (xs[o + i]! - ms[r]!) ** 2;
      rs[r] = 1 / Math.sqrt(v / n + eps);
      for (let i = 0; i < n; i++) {
        y[o + i] = (xs[o + i]! - ms[r]!) * rs[r]! * (w ? w[i]! : 1) + (b ? b[i]! : 0);
      }
    }
    write(out, y);
    write(mean, ms);
    write(rstd, rs);
  },

  layerNormGrad(x, weight, mean, rstd, dy, dx, dweight, dbias) {
    const xs = read(x);
    const w = weight ? read(weight) : null;
    const ms = read(mean);
    const rs = read(rstd);
    const ds = read(dy);
    const [rows, n] = rowsOf(x);
    const gx = new Float64Array(xs.length);
    const gw = new Float64Array(n);
    const gb = new Float64Array(n);
    for (let r = 0; r < rows; r++) {
      const o = r * n;
      let sg = 0;
      let sgx = 0;
      for (let i = 0; i < n; i++) {
        const g = ds[o + i]! * (w ? w[i]! : 1);
        sg += g;
        sgx += g * (xs[o + i]! - ms[r]!) * rs[r]!;
      }
      for (let i = 0; i < n; i++) {
        const xh = (xs[o + i]! - ms[r]!) * rs[r]!;
        const g = ds[o + i]! * (w ? w[i]! : 1);
        gx[o + i] = rs[r]! * (g - sg / n - (xh * sgx) / n);
        gw[i] += ds[o + i]! * xh;
        gb[i] += ds[o + i]!;
      }
    }
    write(dx, gx);
    if (dweight) write(dweight, gw);
    if (dbias) write(dbias, gb);
  },

  rope(x, positions, invFreq, out, { interleaved, inverse, scale }) {
    const [B, T, H, D] = x.shape as [number, number, number, number];
    const xs = read(x);
    const pos = read(positions);
    const inv = read(invFreq);
    const half = D / 2;
    const y = new Float64Array(xs.length);
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < T; t++) {
        for (let i = 0; i < half; i++) {
          // The angle is an f32 product, as Hugging Face computes it (position_ids.float() @ inv_freq).
          const angle = toF32(pos[b * T + t]! * inv[i]!);
          const c = Math.cos(angle) * scale;
          const s = (inverse ? -Math.sin(angle) : Math.sin(angle)) * scale;
          const [i0, i1] = interleaved ? [2 * i, 2 * i + 1] : [i, i + half];
          for (let h = 0; h < H; h++) {
            const o = ((b * T + t) * H + h) * D;
            const a0 = xs[o + i0]!;
            const a1 = xs[o + i1]!;
            y[o + i0] = a0 * c - a1 * s;
            y[o + i1] = a1 * c + a0 * s;
          }
        }
      }
    }
    write(out, y);
  },

  attention(q, k, v, out, lse, o) {
    const d = attnDims('attention', q, k, v);
    const { B, T, S, Hq, Hkv, D } = d;
    const qd = read(q);
    const kd = read(k);
    const vd = read(v);
    const qseg = o.qSegments ? read(o.qSegments) : null;
    const kseg = o.kSegments ? read(o.kSegments) : null;
    const y = new Float64Array(B * T * Hq * D);
    const l = new Float64Array(B * Hq * T);
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < Hq; h++) {
        const hk = Math.floor(h / (Hq / Hkv));
        for (let t = 0; t < T; t++) {
          const { p, lse: rowLse } = maskedSoftmax(attnScores(d, o, qd, kd, qseg, kseg, b, t, h));
          l[(b * Hq + h) * T + t] = rowLse;
          const yo = ((b * T + t) * Hq + h) * D;
          for (let s = 0; s < S; s++) {
            if (p[s] === 0) continue;
            for (let i = 0; i < D; i++) y[yo + i]! += p[s]! * vd[((b * S + s) * Hkv + hk) * D + i]!;
          }
        }
      }
    }
    write(out, y);
    write(lse, l);
  },

  attentionGrad(q, k, v, _out, _lse, dout, dq, dk, dv, o) {
    const d = attnDims('attentionGrad', q, k, v);
    const { B, T, S, Hq, Hkv, D } = d;
    const qd = read(q);
    const kd = read(k);
    const vd = read(v);
    const gd = read(dout);
    const qseg = o.qSegments ? read(o.qSegments) : null;
    const kseg = o.kSegments ? read(o.kSegments) : null;
    const gq = new Float64Array(qd.length);
    const gk = new Float64Array(kd.length);
    const gv = new Float64Array(vd.length);
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < Hq; h++) {
        const hk = Math.floor(h / (Hq / Hkv));
        for (let t = 0; t < T; t++) {
          const { p } = maskedSoftmax(attnScores(d, o, qd, kd, qseg, kseg, b, t, h));
          const qo = ((b * T + t) * Hq + h) * D;
          // dP = dout . v; dS = P * (dP - sum(P * dP)); scores = scale * q . k.
          const dp = new Float64Array(S);
          let rowDot = 0;
          for (let s = 0; s < S; s++) {
            if (p[s] === 0) continue;
            const vo = ((b * S + s) * Hkv + hk) * D;
            let acc = 0;
            for (let i = 0; i < D; i++) {
              acc += gd[qo + i]! * vd[vo + i]!;
              gv[vo + i]! += p[s]! * gd[qo + i]!;
            }
            dp[s] = acc;
            rowDot += p[s]! * acc;
          }
          for (let s = 0; s < S; s++) {
            if (p[s] === 0) continue;
            const ds = p[s]! * (dp[s]! - rowDot) * o.scale;
            const ko = ((b * S + s) * Hkv + hk) * D;
            for (let i = 0; i < D; i++) {
              gq[qo + i]! += ds * kd[ko + i]!;
              gk[ko + i]! += ds * qd[qo + i]!;
            }
          }
        }
      }
    }
    write(dq, gq);
    write(dk, gk);
    write(dv, gv);
  },

  crossEntropy(logits, targets, losses, lse, { ignoreIndex, labelSmoothing }: CrossEntropyOptions) {
    const [n, V] = logits.shape as [number, number];
    const xs = read(logits);
    const ts = read(targets);
    checkTargets('crossEntropy', ts, n, V, ignoreIndex);
    const loss = new Float64Array(n);
    const l = new Float64Array(n);
    for (let r = 0; r < n; r++) {
      l[r] = logSumExp(xs, r * V, V);
      if (ts[r] === ignoreIndex) continue;
      const nll = l[r]! - xs[r * V + ts[r]!]!;
      let mean = 0;
      for (let i = 0; i < V; i++) mean += xs[r * V + i]!;
      mean /= V;
      // PyTorch's label smoothing: the target distribution puts e / V on every class.
      loss[r] = (1 - labelSmoothing) * nll + labelSmoothing * (l[r]! - mean);
    }
    write(losses, loss);
    write(lse, l);
  },

  crossEntropyGrad(logits, targets, _lse, dlosses, dlogits, { ignoreIndex, labelSmoothing }: CrossEntropyOptions) {
    const [n, V] = logits.shape as [number, number];
    const xs = read(logits);
    const ts = read(targets);
    const dl = read(dlosses);
    checkTargets('crossEntropyGrad', ts, n, V, ignoreIndex);
    const g = new Float64Array(xs.length);
    for (let r = 0; r < n; r++) {
      if (ts[r] === ignoreIndex) continue;
      const lse = logSumExp(xs, r * V, V);
      for (let i = 0; i < V; i++) {
        const target = (i === ts[r] ? 1 - labelSmoothing : 0) + labelSmoothing / V;
        g[r * V + i] = (Math.exp(xs[r * V + i]! - lse) - target) * dl[r]!;
      }
    }
    write(dlogits, g);
  },
};
