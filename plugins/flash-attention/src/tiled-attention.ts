/**
 * The FlashAttention algorithm on the host (Dao et al., 2022; the backward as in
 * FlashAttention-2): queries and keys are processed in tiles, each query row keeps a running
 * maximum m, sum l and output accumulator (online softmax), so memory beyond the inputs and
 * outputs is O(tile^2 + T) and the (T, S) score matrix never exists. The backward recomputes
 * each tile's probabilities from the saved log-sum-exp.
 *
 * Written by hand because it is the algorithm this plugin provides: no package implements it
 * for plain arrays. It is the readable twin of the CUDA kernels (native-cuda/attention.cu).
 *
 * Layouts (row-major Float32Array): q, out, dout, dq (B, T, Hq, D); k, v, dk, dv (B, S, Hkv, D);
 * lse (B, Hq, T); segments (B, T) and (B, S). Query head h reads kv head h / (Hq / Hkv).
 * Query t sees key s when (not causal or s <= t + S - T) and, with segments, the ids match.
 */

export interface AttentionDims {
  B: number;
  T: number;
  S: number;
  Hq: number;
  Hkv: number;
  D: number;
}

export interface TiledOptions {
  scale: number;
  causal: boolean;
  /** Rows of a query tile and of a key tile. */
  tile: number;
  qSegments?: Int32Array | null;
  kSegments?: Int32Array | null;
}

function visibleFn(d: AttentionDims, o: TiledOptions) {
  const shift = d.S - d.T;
  const qs = o.qSegments && o.kSegments ? o.qSegments : null;
  const ks = qs ? o.kSegments! : null;
  return (b: number, t: number, s: number) => (!o.causal || s <= t + shift) && (!qs || qs[b * d.T + t] === ks![b * d.S + s]);
}

/** Keys [0, end) can be visible to queries [t0, t1): the causal bound of a query tile. */
function keyEnd(d: AttentionDims, o: TiledOptions, t1: number): number {
  return o.causal ? Math.max(0, Math.min(d.S, t1 - 1 + d.S - d.T + 1)) : d.S;
}

/** Forward: fills out and lse (a query that sees no key gets 0 and -Infinity). */
export function tiledAttentionForward(d: AttentionDims, q: Float32Array, k: Float32Array, v: Float32Array, o: TiledOptions, out: Float32Array, lse: Float32Array): void {
  const { B, T, S, Hq, Hkv, D } = d;
  const tile = o.tile;
  const group = Hq / Hkv;
  const visible = visibleFn(d, o);
  // Per query tile: scores (tile x tile), running max, sum and output (tile x D).
  const scores = new Float64Array(tile * tile);
  const m = new Float64Array(tile);
  const l = new Float64Array(tile);
  const acc = new Float64Array(tile * D);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < Hq; h++) {
      const hk = Math.floor(h / group);
      for (let t0 = 0; t0 < T; t0 += tile) {
        const rows = Math.min(tile, T - t0);
        m.fill(-Infinity);
        l.fill(0);
        acc.fill(0);
        const sEnd = keyEnd(d, o, t0 + rows);
        for (let s0 = 0; s0 < sEnd; s0 += tile) {
          const cols = Math.min(tile, sEnd - s0);
          // scores = scale * q_tile k_tile^T, -Infinity where masked
          for (let i = 0; i < rows; i++) {
            const qo = ((b * T + t0 + i) * Hq + h) * D;
            for (let j = 0; j < cols; j++) {
              if (!visible(b, t0 + i, s0 + j)) {
                scores[i * tile + j] = -Infinity;
                continue;
              }
              const ko = ((b * S + s0 + j) * Hkv + hk) * D;
              let dot = 0;
              for (let c = 0; c < D; c++) dot += q[qo + c]! * k[ko + c]!;
              scores[i * tile + j] = o.scale * dot;
            }
          }
          // Online softmax: rescale what the row has so far to the new maximum, then add the tile.
          for (let i = 0; i < rows; i++) {
            let tileMax = -Infinity;
            for (let j = 0; j < cols; j++) tileMax = Math.max(tileMax, scores[i * tile + j]!);
            const mNew = Math.max(m[i]!, tileMax);
            if (mNew === -Infinity) continue; // nothing visible yet
            const correction = Math.exp(m[i]! - mNew);
            l[i]! *= correction;
            for (let c = 0; c < D; c++) acc[i * D + c]! *= correction;
            for (let j = 0; j < cols; j++) {
              const p = Math.exp(scores[i * tile + j]! - mNew);
              if (p === 0) continue;
              l[i]! += p;
              const vo = ((b * S + s0 + j) * Hkv + hk) * D;
              for (let c = 0; c < D; c++) acc[i * D + c]! += p * v[vo + c]!;
            }
            m[i] = mNew;
          }
        }
        for (let i = 0; i < rows; i++) {
          const oo = ((b * T + t0 + i) * Hq + h) * D;
          const inv = l[i]! > 0 ? 1 / l[i]! : 0;
          for (let c = 0; c < D; c++) out[oo + c] = acc[i * D + c]! * inv;
          lse[(b * Hq + h) * T + t0 + i] = l[i]! > 0 ? m[i]! + Math.log(l[i]!) : -Infinity;
        }
      }
    }
  }
}

/** Backward: writes dq, dk, dv (zeroed first) from dout and the forward's out and lse. */
export function tiledAttentionBackward(
  d: AttentionDims, q: Float32Array, k: Float32Array, v: Float32Array, out: Float32Array, lse: Float32Array, dout: Float32Array,
  o: TiledOptions, dq: Float32Array, dk: Float32Array, dv: Float32Array,
): void {
  const { B, T, S, Hq, Hkv, D } = d;
  const tile = o.tile;
  const group = Hq / Hkv;
  const visible = visibleFn(d, o);
  dq.fill(0);
  dk.fill(0);
  dv.fill(0);
  // delta[t] = rowsum(dout * out): the sum(P * dP) term of the softmax gradient, per query row.
  const delta = new Float64Array(B * Hq * T);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      for (let h = 0; h < Hq; h++) {
        const r = ((b * T + t) * Hq + h) * D;
        let s = 0;
        for (let c = 0; c < D; c++) s += dout[r + c]! * out[r + c]!;
        delta[(b * Hq + h) * T + t] = s;
      }
    }
  }
  const p = new Float64Array(tile * tile);
  const ds = new Float64Array(tile * tile);
  // Key tiles outside, query tiles inside (FlashAttention-2): dk and dv of a key tile are
  // complete when its loop ends; dq accumulates across key tiles.
  for (let b = 0; b < B; b++) {
    for (let hk = 0; hk < Hkv; hk++) {
      for (let s0 = 0; s0 < S; s0 += tile) {
        const cols = Math.min(tile, S - s0);
        // Causal: queries before s0 - (S - T) see none of these keys.
        const tBegin = o.causal ? Math.max(0, s0 - (S - T)) : 0;
        for (let g = 0; g < group; g++) {
          const h = hk * group + g;
          for (let t0 = tBegin - (tBegin % tile); t0 < T; t0 += tile) {
            const rows = Math.min(tile, T - t0);
            // P = exp(scale * q k^T - lse), 0 where masked or where the row sees nothing.
            for (let i = 0; i < rows; i++) {
              const t = t0 + i;
              const rowLse = lse[(b * Hq + h) * T + t]!;
              const qo = ((b * T + t) * Hq + h) * D;
              for (let j = 0; j < cols; j++) {
                if (rowLse === -Infinity || !visible(b, t, s0 + j)) {
                  p[i * tile + j] = 0;
                  continue;
                }
                const ko = ((b * S + s0 + j) * Hkv + hk) * D;
                let dot = 0;
                for (let c = 0; c < D; c++) dot += q[qo + c]! * k[ko + c]!;
                p[i * tile + j] = Math.exp(o.scale * dot - rowLse);
              }
            }
            // dV += P^T dO; dP = dO V^T; dS = P * (dP - delta) * scale
            for (let i = 0; i < rows; i++) {
              const t = t0 + i;
              const go = ((b * T + t) * Hq + h) * D;
              const dl = delta[(b * Hq + h) * T + t]!;
              for (let j = 0; j < cols; j++) {
                const pij = p[i * tile + j]!;
                if (pij === 0) {
                  ds[i * tile + j] = 0;
                  continue;
                }
                const vo = ((b * S + s0 + j) * Hkv + hk) * D;
                let dp = 0;
                for (let c = 0; c < D; c++) {
                  dv[vo + c]! += pij * dout[go + c]!;
                  dp += dout[go + c]! * v[vo + c]!;
                }
                ds[i * tile + j] = pij * (dp - dl) * o.scale;
              }
            }
            // dQ += dS K; dK += dS^T Q
            for (let i = 0; i < rows; i++) {
              const qo = ((b * T + t0 + i) * Hq + h) * D;
              for (let j = 0; j < cols; j++) {
                const g2 = ds[i * tile + j]!;
                if (g2 === 0) continue;
                const ko = ((b * S + s0 + j) * Hkv + hk) * D;
                for (let c = 0; c < D; c++) {
                  dq[qo + c]! += g2 * k[ko + c]!;
                  dk[ko + c]! += g2 * q[qo + c]!;
                }
              }
            }
          }
        }
      }
    }
  }
}
