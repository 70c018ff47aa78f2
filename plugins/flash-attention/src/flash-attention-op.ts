/**
 * flashAttention(q, k, v, options): the same contract as scaledDotProductAttention, computed
 * by the FlashAttention algorithm. On a cuda device the backend's attention kernels are that
 * algorithm already (native-cuda/attention.cu), so the op defers to them; on the host devices
 * (cpu, reference) it runs the tiled version in tiled-attention.ts, forward and backward.
 */
import { record, scaledDotProductAttention, tensor, tidy, type Tensor } from '@lmflow/tensor';
import { tiledAttentionBackward, tiledAttentionForward, type AttentionDims } from './tiled-attention.js';

export interface FlashAttentionCallOptions {
  causal: boolean;
  scale: number;
  /** Rows per query tile and per key tile on the host. */
  tile: number;
  qSegments?: Tensor | null;
  kSegments?: Tensor | null;
}

/** A host Float32Array copy of t (any dtype, any layout). */
function f32Data(t: Tensor): Float32Array {
  return tidy(() => t.cast('f32').contiguous().dataSync() as Float32Array).slice();
}

function i32Data(t: Tensor | null | undefined): Int32Array | null {
  return t ? (tidy(() => t.cast('i32').contiguous().dataSync() as Int32Array).slice()) : null;
}

/** q: (B, T, Hq, D); k, v: (B, S, Hkv, D) -> (B, T, Hq, D). */
export function flashAttention(q: Tensor, k: Tensor, v: Tensor, options: FlashAttentionCallOptions): Tensor {
  const { causal, scale, qSegments, kSegments } = options;
  if (q.device.startsWith('cuda')) {
    return scaledDotProductAttention(q, k, v, { causal, scale, qSegments: qSegments ?? undefined, kSegments: kSegments ?? undefined });
  }
  const op = 'flashAttention';
  if (q.ndim !== 4 || k.ndim !== 4 || v.ndim !== 4) {
    throw new Error(`${op}: q, k, v must be (B, T, H, D), got ${q.describe()}, ${k.describe()}, ${v.describe()}`);
  }
  const [B, T, Hq, D] = q.shape as [number, number, number, number];
  const [, S, Hkv] = k.shape as [number, number, number, number];
  if (k.shape[0] !== B || k.shape[3] !== D || v.shape.join() !== k.shape.join() || Hkv === 0 || Hq % Hkv !== 0) {
    throw new Error(`${op}: k ${k.describe()} and v ${v.describe()} must be (B, S, Hkv, D) for q ${q.describe()}, with Hq a multiple of Hkv`);
  }
  if (q.dtype !== k.dtype || q.dtype !== v.dtype) throw new Error(`${op}: q, k and v must share a dtype, got ${q.describe()}, ${k.describe()}, ${v.describe()}`);
  if (!qSegments !== !kSegments) throw new Error(`${op}: give both qSegments and kSegments, or neither`);
  const dims: AttentionDims = { B, T, S, Hq, Hkv, D };
  const tiled = { scale, causal, tile: options.tile, qSegments: i32Data(qSegments), kSegments: i32Data(kSegments) };
  const [qd, kd, vd] = [q, k, v].map(f32Data) as [Float32Array, Float32Array, Float32Array];
  const outData = new Float32Array(B * T * Hq * D);
  const lse = new Float32Array(B * Hq * T);
  tiledAttentionForward(dims, qd, kd, vd, tiled, outData, lse);
  const device = q.device;
  const out = tidy(() => tensor(outData, { shape: [B, T, Hq, D], device }).cast(q.dtype));
  const lseTensor = tensor(lse, { shape: [B, Hq, T], device });
  record(op, [q, k, v], out, [q, k, v, out, lseTensor], (g, saved, needs) => {
    const [qs, ks, vs, os, ls] = saved as Tensor[];
    const dq = new Float32Array(qd.length);
    const dk = new Float32Array(kd.length);
    const dv = new Float32Array(vd.length);
    tiledAttentionBackward(dims, f32Data(qs!), f32Data(ks!), f32Data(vs!), f32Data(os!), f32Data(ls!), f32Data(g), tiled, dq, dk, dv);
    const back = (data: Float32Array, shape: readonly number[]) => tidy(() => tensor(data, { shape: [...shape], device }).cast(g.dtype));
    return [needs[0] ? back(dq, qs!.shape) : null, needs[1] ? back(dk, ks!.shape) : null, needs[2] ? back(dv, vs!.shape) : null];
  });
  lseTensor.dispose();
  return out;
}
