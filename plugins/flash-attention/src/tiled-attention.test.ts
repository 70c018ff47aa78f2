/**
 * The tiled FlashAttention (forward and backward) against the reference backend's attention,
 * whose gradients are exact float64: odd sizes that no tile divides, causal masks aligned to
 * the end (a KV cache), grouped-query heads, packed segments, and rows that see no key.
 */
import { describe, expect, it } from 'vitest';
import { expectClose } from '@lmflow/test-utils';
import { Generator, backward, randn, scaledDotProductAttention, tensor, tidy, type Tensor } from '@lmflow/tensor';
import { flashAttention } from './flash-attention-op.js';

interface Case {
  name: string;
  B: number; T: number; S: number; Hq: number; Hkv: number; D: number;
  causal: boolean;
  tile: number;
  segments?: [number[], number[]];
}

const CASES: Case[] = [
  { name: 'square, no mask, tiles of 5 over 13 rows', B: 2, T: 13, S: 13, Hq: 2, Hkv: 2, D: 8, causal: false, tile: 5 },
  { name: 'causal, grouped-query heads (4 query heads on 2 kv heads)', B: 1, T: 17, S: 17, Hq: 4, Hkv: 2, D: 6, causal: true, tile: 4 },
  { name: 'causal with a KV cache (T < S), tile larger than T', B: 2, T: 3, S: 11, Hq: 2, Hkv: 1, D: 4, causal: true, tile: 8 },
  { name: 'one-row tiles', B: 1, T: 6, S: 9, Hq: 1, Hkv: 1, D: 5, causal: false, tile: 1 },
  // Two packed samples and a padding query (segment 9) that sees no key.
  { name: 'packed segments with a query that sees nothing', B: 1, T: 7, S: 7, Hq: 2, Hkv: 1, D: 4, causal: true, tile: 3, segments: [[0, 0, 0, 1, 1, 1, 9], [0, 0, 0, 1, 1, 1, 2]] },
];

function leaf(shape: number[], seed: number): Tensor {
  return randn(shape, { device: 'reference', dtype: 'f64', generator: new Generator(seed) }).detach().requiresGrad_();
}

describe('tiled FlashAttention matches the reference attention', () => {
  for (const c of CASES) {
    it(`${c.name}: output and the gradients of q, k and v`, () => {
      tidy(() => {
        const scale = 1 / Math.sqrt(c.D);
        const q = leaf([c.B, c.T, c.Hq, c.D], 1);
        const k = leaf([c.B, c.S, c.Hkv, c.D], 2);
        const v = leaf([c.B, c.S, c.Hkv, c.D], 3);
        const dout = randn([c.B, c.T, c.Hq, c.D], { device: 'reference', dtype: 'f64', generator: new Generator(4) });
        const seg = c.segments
          ? { qSegments: tensor([c.segments[0]], { device: 'reference', dtype: 'i32' }), kSegments: tensor([c.segments[1]], { device: 'reference', dtype: 'i32' }) }
          : {};
        const expected = scaledDotProductAttention(q, k, v, { causal: c.causal, scale, ...seg });
        backward(expected, { gradient: dout });
        const want = [expected.detach(), q.grad!, k.grad!, v.grad!];
        for (const t of [q, k, v]) t.grad = null;

        const got = flashAttention(q, k, v, { causal: c.causal, scale, tile: c.tile, ...seg });
        expect(got.shape).toEqual([c.B, c.T, c.Hq, c.D]);
        backward(got, { gradient: dout });
        // The tiled version computes in f32 from f32 copies: f32 tolerances.
        const tol = { atol: 2e-5, rtol: 2e-4 };
        expectClose(got.detach(), want[0]!, tol, 'out');
        expectClose(q.grad!, want[1]!, tol, 'dq');
        expectClose(k.grad!, want[2]!, tol, 'dk');
        expectClose(v.grad!, want[3]!, tol, 'dv');
        if (c.segments) {
          // The padding query (t = 6) sees no key: output 0 and no gradient.
          const row = got.detach().toArray() as number[][][][];
          expect(row[0]![6]!.flat().every((x) => x === 0)).toBe(true);
        }
      });
    });
  }

  it('bf16 inputs on the cpu backend: result in bf16, close to the f64 reference', () => {
    tidy(() => {
      const q64 = randn([1, 33, 2, 16], { device: 'reference', dtype: 'f64', generator: new Generator(5) });
      const k64 = randn([1, 33, 1, 16], { device: 'reference', dtype: 'f64', generator: new Generator(6) });
      const v64 = randn([1, 33, 1, 16], { device: 'reference', dtype: 'f64', generator: new Generator(7) });
      const want = scaledDotProductAttention(q64, k64, v64, { causal: true });
      const [q, k, v] = [q64, k64, v64].map((t) => t.cast('bf16').to('cpu')) as [Tensor, Tensor, Tensor];
      const got = flashAttention(q, k, v, { causal: true, scale: 1 / 4, tile: 16 });
      expect(got.dtype).toBe('bf16');
      expect(got.device).toBe('cpu');
      expectClose(got.cast('f64').to('reference'), want, { atol: 3e-2, rtol: 3e-2 }, 'bf16 out');
    });
  });

  it('names the operand and the expected layout in its errors', () => {
    tidy(() => {
      const q = randn([1, 4, 3, 8], { device: 'reference', generator: new Generator(1) });
      const k = randn([1, 4, 2, 8], { device: 'reference', generator: new Generator(2) });
      expect(() => flashAttention(q, k, k, { causal: false, scale: 1, tile: 4 })).toThrow(/flashAttention: k .*f32 \[1, 4, 2, 8\].*must be \(B, S, Hkv, D\).*Hq a multiple of Hkv/);
      expect(() => flashAttention(q.reshape([4, 3, 8]), k, k, { causal: false, scale: 1, tile: 4 })).toThrow(/must be \(B, T, H, D\)/);
    });
  });
});
