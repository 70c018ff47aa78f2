import { describe, expect, it } from 'vitest';
import { expectClose, gradCheck, randomInput, toleranceFor } from '@lmflow/test-utils';
import { scaledDotProductAttention, tensor, tidy, type Tensor } from '../../index.js';
import { FLOAT_DTYPES, describeSimdLevels, expectParity, gradsOf, pair } from './test-support.js';

interface Mask {
  causal?: boolean;
  qSeg?: number[];
  kSeg?: number[];
}

/**
 * The naive composition in float64: scores = scale * q k^T per head (kv head h / (Hq/Hkv)),
 * masked to -inf, softmax over keys, then @ v. Returns out (B, T, Hq, D) and lse (B, Hq, T).
 */
function naiveAttention(q: Tensor, k: Tensor, v: Tensor, scale: number, mask: Mask = {}): { out: number[]; lse: number[] } {
  const [B, T, Hq, D] = q.shape as number[] as [number, number, number, number];
  const [, S, Hkv] = k.shape as number[] as [number, number, number];
  const [qd, kd, vd] = [q, k, v].map((t) => t.contiguous().toFlatArray()) as [number[], number[], number[]];
  const out = new Array<number>(B * T * Hq * D).fill(0);
  const lse = new Array<number>(B * Hq * T).fill(-Infinity);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < Hq; h++) {
      const hk = Math.floor((h * Hkv) / Hq);
      for (let t = 0; t < T; t++) {
        const scores: number[] = [];
        for (let s = 0; s < S; s++) {
          let dot = 0;
          for (let i = 0; i < D; i++) dot += qd[((b * T + t) * Hq + h) * D + i]! * kd[((b * S + s) * Hkv + hk) * D + i]!;
          const hidden = (mask.causal && s > t + S - T) || (mask.qSeg && mask.qSeg[b * T + t] !== mask.kSeg![b * S + s]);
          scores.push(hidden ? -Infinity : scale * dot);
        }
        const m = Math.max(...scores);
        if (m === -Infinity) continue; // sees no key: output 0, lse -inf
        const e = scores.map((x) => Math.exp(x - m));
        const sum = e.reduce((a, c) => a + c, 0);
        lse[(b * Hq + h) * T + t] = m + Math.log(sum);
        for (let s = 0; s < S; s++) {
          for (let i = 0; i < D; i++) out[((b * T + t) * Hq + h) * D + i]! += (e[s]! / sum) * vd[((b * S + s) * Hkv + hk) * D + i]!;
        }
      }
    }
  }
  return { out, lse };
}

function segmentsOn(device: string, values: number[], shape: number[]): Tensor {
  return tensor(Int32Array.from(values), { device, dtype: 'i32', shape });
}

function qkv(B: number, T: number, S: number, Hq: number, Hkv: number, D: number, seed = 1, dtype: 'f64' | 'f32' = 'f64'): [Tensor, Tensor, Tensor] {
  return [
    randomInput([B, T, Hq, D], { dtype, seed }),
    randomInput([B, S, Hkv, D], { dtype, seed: seed + 1 }),
    randomInput([B, S, Hkv, D], { dtype, seed: seed + 2 }),
  ];
}

describe('scaledDotProductAttention (reference)', () => {
  it('matches q @ k^T, mask, softmax, @ v for grouped-query heads (Hq 8, Hkv 2 and 8)', () => {
    tidy(() => {
      for (const Hkv of [2, 8]) {
        const [q, k, v] = qkv(2, 5, 7, 8, Hkv, 6, Hkv);
        const expected = naiveAttention(q, k, v, 1 / Math.sqrt(6));
        const out = scaledDotProductAttention(q, k, v);
        expect(out.shape).toEqual([2, 5, 8, 6]);
        expectClose(out, expected.out, toleranceFor('f64'), `Hkv ${Hkv}`);
        expectClose(scaledDotProductAttention(q, k, v, { scale: 0.3 }), naiveAttention(q, k, v, 0.3).out, toleranceFor('f64'), 'scale');
      }
    });
  });

  it('causal with T < S (a KV cache), T = S and T > S, where early queries see no key and give 0', () => {
    tidy(() => {
      for (const [T, S] of [[3, 8], [6, 6], [7, 4]] as const) {
        const [q, k, v] = qkv(1, T, S, 4, 2, 5, T * 10 + S);
        const expected = naiveAttention(q, k, v, 0.5, { causal: true });
        const out = scaledDotProductAttention(q, k, v, { causal: true, scale: 0.5 });
        expectClose(out, expected.out, toleranceFor('f64'), `T ${T} S ${S}`);
        const lse = randomInput([1, 4, T], { dtype: 'f64' });
        out.backend.attention(q, k, v, out, lse, { scale: 0.5, causal: true });
        expectClose(lse, expected.lse, toleranceFor('f64'), `lse T ${T} S ${S}`);
      }
      // T > S: queries 0..2 of 7 see keys s <= t - 3, i.e. none.
      const [q, k, v] = qkv(1, 7, 4, 2, 2, 3, 5);
      const rows = scaledDotProductAttention(q, k, v, { causal: true }).toFlatArray();
      expect(rows.slice(0, 3 * 2 * 3).every((x) => x === 0)).toBe(true);
      expect(rows.slice(3 * 2 * 3).some((x) => x !== 0)).toBe(true);
    });
  });

  it('segments: two packed samples attend only within themselves; a query with no key gets 0', () => {
    tidy(() => {
      const [q, k, v] = qkv(2, 6, 6, 2, 1, 4, 11);
      // Batch 0 packs samples 1 (3 tokens) and 2; batch 1 has a padding query (segment 9).
      const qs = [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3, 9];
      const ks = [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3, -1];
      const options = { causal: true, qSegments: segmentsOn('reference', qs, [2, 6]), kSegments: segmentsOn('reference', ks, [2, 6]) };
      const out = scaledDotProductAttention(q, k, v, options);
      const expected = naiveAttention(q, k, v, 0.5, { causal: true, qSeg: qs, kSeg: ks });
      expectClose(out, expected.out, toleranceFor('f64'));
      // Sample 2 alone equals attention over its own three tokens.
      const alone = scaledDotProductAttention(q.slice(1, 3, 6).slice(0, 0, 1), k.slice(1, 3, 6).slice(0, 0, 1), v.slice(1, 3, 6).slice(0, 0, 1), { causal: true });
      expectClose(out.slice(0, 0, 1).slice(1, 3, 6).contiguous(), alone, toleranceFor('f64'));
      expect(out.toFlatArray().slice(-8).every((x) => x === 0)).toBe(true);
    });
  });

  it('gradients of q, k and v pass gradCheck: GQA, causal T < S, segments', () => {
    gradCheck((q, k, v) => scaledDotProductAttention(q, k, v), qkv(1, 3, 4, 4, 2, 3, 21));
    gradCheck((q, k, v) => scaledDotProductAttention(q, k, v, { causal: true, scale: 0.8 }), qkv(2, 2, 5, 2, 1, 4, 22));
    const qSegments = segmentsOn('reference', [1, 1, 2, 2], [1, 4]);
    const kSegments = segmentsOn('reference', [1, 1, 2, 2], [1, 4]);
    gradCheck((q, k, v) => scaledDotProductAttention(q, k, v, { causal: true, qSegments, kSegments }), qkv(1, 4, 4, 2, 2, 3, 23));
    // A query seeing nothing (T > S, causal) has zero gradient and passes too.
    gradCheck((q, k, v) => scaledDotProductAttention(q, k, v, { causal: true }), qkv(1, 4, 2, 1, 1, 2, 24));
    // q as a permuted (B, H, T, D) tensor: strided rows.
    gradCheck((q, k, v) => scaledDotProductAttention(q.permute(0, 2, 1, 3), k, v), [randomInput([1, 2, 3, 4], { dtype: 'f64', seed: 25 }), ...qkv(1, 3, 3, 2, 1, 4, 26).slice(1)]);
    qSegments.dispose();
    kSegments.dispose();
  });

  it('errors name the op and the shapes', () => {
    tidy(() => {
      const [q, k, v] = qkv(1, 3, 4, 4, 2, 5, 1, 'f32');
      expect(() => scaledDotProductAttention(q, randomInput([1, 4, 3, 5]), randomInput([1, 4, 3, 5]))).toThrow(/scaledDotProductAttention: the 4 query heads of q \[1, 3, 4, 5\] must be a multiple of the 3 kv heads of k \[1, 4, 3, 5\]/);
      expect(() => scaledDotProductAttention(q, k, randomInput([1, 5, 2, 5]))).toThrow(/scaledDotProductAttention: v \[1, 5, 2, 5\] must have the shape of k \[1, 4, 2, 5\]/);
      expect(() => scaledDotProductAttention(q, randomInput([1, 4, 2, 6]), v)).toThrow(/scaledDotProductAttention: k \[1, 4, 2, 6\] must be \(B, S, Hkv, D\) with B = 1 and D = 5 of q \[1, 3, 4, 5\]/);
      expect(() => scaledDotProductAttention(q.reshape(3, 4, 5), k, v)).toThrow(/scaledDotProductAttention: q \(B, T, Hq, D\) must have 4 dimensions/);
      expect(() => scaledDotProductAttention(q, k.cast('f64'), v)).toThrow(/scaledDotProductAttention: dtypes differ/);
      const seg = segmentsOn('reference', [0, 0, 0], [1, 3]);
      expect(() => scaledDotProductAttention(q, k, v, { qSegments: seg })).toThrow(/give both qSegments and kSegments/);
      expect(() => scaledDotProductAttention(q, k, v, { qSegments: seg, kSegments: seg })).toThrow(/kSegments must have shape \[1, 4\]/);
    });
  });
});

interface Case {
  name: string;
  dims: [number, number, number, number, number, number]; // B, T, S, Hq, Hkv, D
  causal?: boolean;
  segments?: boolean;
}

const CASES: Case[] = [
  { name: 'one query, one key', dims: [1, 1, 1, 1, 1, 1] },
  { name: 'GQA 8/2, odd D', dims: [2, 17, 17, 8, 2, 17], causal: true },
  { name: 'decode: one query over 129 cached keys', dims: [1, 1, 129, 8, 2, 64], causal: true },
  { name: 'decode, not causal, odd D', dims: [1, 1, 37, 3, 1, 13] },
  { name: 'a few queries (verifying proposals) with segments', dims: [2, 3, 40, 4, 2, 24], causal: true, segments: true },
  { name: 'a few queries over a long cache (rows on threads)', dims: [1, 2, 600, 8, 2, 64], causal: true },
  { name: 'causal T < S across tile edges', dims: [1, 70, 131, 2, 1, 20], causal: true },
  { name: 'causal T > S (early queries see nothing)', dims: [2, 9, 3, 2, 2, 7], causal: true },
  { name: 'segments, MHA', dims: [2, 13, 13, 3, 3, 9], causal: true, segments: true },
];

describeSimdLevels('scaledDotProductAttention', () => {
  for (const dtype of FLOAT_DTYPES) {
    it(`${dtype}: out, lse, dq, dk, dv match the reference`, () => {
      tidy(() => {
        for (const c of CASES) {
          const [B, T, S, Hq, Hkv, D] = c.dims;
          const [qr, qc] = pair([B, T, Hq, D], { dtype, seed: 1 });
          const [kr, kc] = pair([B, S, Hkv, D], { dtype, seed: 2 });
          const [vr, vc] = pair([B, S, Hkv, D], { dtype, seed: 3 });
          const [gr, gc] = pair([B, T, Hq, D], { dtype, seed: 4 });
          const qs = Array.from({ length: B * T }, (_, i) => Math.floor((i % T) / 5));
          const ks = Array.from({ length: B * S }, (_, i) => Math.floor((i % S) / 5));
          const options = (device: string) => ({
            causal: c.causal ?? false,
            ...(c.segments ? { qSegments: segmentsOn(device, qs, [B, T]), kSegments: segmentsOn(device, ks, [B, S]) } : {}),
          });
          const leaves = (ts: Tensor[]) => ts.map((t) => t.detach().requiresGrad_()) as [Tensor, Tensor, Tensor];
          const yr = scaledDotProductAttention(...leaves([qr, kr, vr]), options('reference'));
          const yc = scaledDotProductAttention(...leaves([qc, kc, vc]), options('cpu'));
          const label = `${c.name} ${dtype}`;
          expectParity(yc, yr, dtype, label);
          const lseR = tensor(new Float32Array(B * Hq * T), { device: 'reference', shape: [B, Hq, T] });
          const lseC = tensor(new Float32Array(B * Hq * T), { device: 'cpu', shape: [B, Hq, T] });
          const optR = { scale: 1 / Math.sqrt(D), qSegments: null, kSegments: null, ...options('reference'), causal: c.causal ?? false };
          const optC = { scale: 1 / Math.sqrt(D), qSegments: null, kSegments: null, ...options('cpu'), causal: c.causal ?? false };
          qr.backend.attention(qr, kr, vr, yr.detach(), lseR, optR);
          qc.backend.attention(qc, kc, vc, yc.detach(), lseC, optC);
          expectParity(lseC, lseR, 'f32', `${label} lse`);
          const dr = gradsOf(yr, gr);
          const dc = gradsOf(yc, gc);
          ['dq', 'dk', 'dv'].forEach((name, i) => expectParity(dc[i]!, dr[i]!, dtype, `${label} ${name}`, dtype === 'f32' ? 2 : 3));
        }
      });
    });
  }

  it('strided inputs: k, v sliced from a KV cache, q permuted from (B, H, T, D); several threads', () => {
    tidy(() => {
      const [qr, qc] = pair([2, 4, 150, 32], { seed: 5 });
      const [kr, kc] = pair([2, 300, 2, 32], { seed: 6 });
      const [vr, vc] = pair([2, 300, 2, 32], { seed: 7 });
      const [gr, gc] = pair([2, 150, 4, 32], { seed: 8 });
      const run = (q: Tensor, k: Tensor, v: Tensor) =>
        scaledDotProductAttention(q.permute(0, 2, 1, 3).detach().requiresGrad_(), k.slice(1, 0, 200).detach().requiresGrad_(), v.slice(1, 0, 200).detach().requiresGrad_(), { causal: true });
      const yr = run(qr, kr, vr);
      const yc = run(qc, kc, vc);
      expectParity(yc, yr, 'f32', 'strided out');
      const dr = gradsOf(yr, gr);
      const dc = gradsOf(yc, gc);
      ['dq', 'dk', 'dv'].forEach((name, i) => expectParity(dc[i]!, dr[i]!, 'f32', `strided ${name}`, 2));
    });
  });
});
