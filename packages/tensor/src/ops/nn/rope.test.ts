import { describe, expect, it } from 'vitest';
import { expectClose, gradCheck, randomInput, toleranceFor } from '@lmflow/test-utils';
import { rope, ropeInvFreq, tensor, tidy, type Tensor } from '../../index.js';
import { FLOAT_DTYPES, describeSimdLevels, expectParity, gradsOf, pair } from './test-support.js';

function positionsOn(device: string, values: number[], shape: number[]): Tensor {
  return tensor(Int32Array.from(values), { device, dtype: 'i32', shape });
}

/**
 * Hugging Face's apply_rotary_pos_emb written out in float64 for x (B, T, H, D):
 * emb = cat(freqs, freqs), q * cos(emb) + rotate_half(q) * sin(emb), with
 * rotate_half(q) = cat(-q[D/2:], q[:D/2]); or the interleaved (complex) pairing.
 */
function rotaryReference(x: number[], shape: number[], pos: number[], inv: number[], interleaved: boolean, scale = 1): number[] {
  const [B, T, H, D] = shape as [number, number, number, number];
  const half = D / 2;
  const out = new Array<number>(x.length);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      for (let h = 0; h < H; h++) {
        const o = ((b * T + t) * H + h) * D;
        for (let j = 0; j < D; j++) {
          const i = interleaved ? j >> 1 : j % half;
          const angle = Math.fround(pos[b * T + t]! * inv[i]!);
          const [c, s] = [Math.cos(angle) * scale, Math.sin(angle) * scale];
          if (interleaved) {
            // (x0 + i x1) * (cos + i sin)
            const x0 = x[o + 2 * i]!;
            const x1 = x[o + 2 * i + 1]!;
            out[o + j] = j % 2 === 0 ? x0 * c - x1 * s : x0 * s + x1 * c;
          } else {
            const rotated = j < half ? -x[o + j + half]! : x[o + j - half]!;
            out[o + j] = x[o + j]! * c + rotated * s;
          }
        }
      }
    }
  }
  return out;
}

describe('ropeInvFreq', () => {
  it('is 1 / theta^(2i/d) rounded through f32 as Hugging Face computes it', () => {
    tidy(() => {
      for (const [d, theta] of [[128, 10000], [64, 500000], [6, 10000]] as const) {
        const inv = ropeInvFreq(d, theta, { device: 'reference' });
        expect(inv.dtype).toBe('f32');
        expect(inv.shape).toEqual([d / 2]);
        const values = inv.toFlatArray();
        values.forEach((v, i) => {
          expect(v).toBe(Math.fround(1 / Math.fround(Math.fround(theta) ** Math.fround((2 * i) / d))));
          expect(Math.abs(v - theta ** (-(2 * i) / d)) / v).toBeLessThan(3e-7);
        });
      }
      // Llama 2 (head_dim 128, theta 1e4): known values of inv_freq.
      const llama = ropeInvFreq(128, 10000, { device: 'reference' }).toFlatArray();
      expect(llama[0]).toBe(1);
      expect(llama[1]).toBeCloseTo(0.86596435, 8);
      expect(llama[63]).toBeCloseTo(1.154782e-4, 10);
    });
  });

  it('rejects an odd head size and a bad theta', () => {
    expect(() => ropeInvFreq(7)).toThrow(/ropeInvFreq: headDim must be a positive even integer, got 7/);
    expect(() => ropeInvFreq(8, 0)).toThrow(/ropeInvFreq: theta must be a positive number, got 0/);
  });
});

describe('rope (reference)', () => {
  it('matches the Hugging Face definition (rotate_half) and the interleaved pairing, with scale', () => {
    tidy(() => {
      const shape = [2, 3, 2, 8];
      const x = randomInput(shape, { dtype: 'f64', seed: 1 });
      const pos = [0, 1, 2, 7, 4096, 100003];
      const p = positionsOn('reference', pos, [2, 3]);
      const inv = ropeInvFreq(8, 10000, { device: 'reference' });
      const invValues = inv.toFlatArray();
      for (const interleaved of [false, true]) {
        for (const scale of [1, 1.25]) {
          const expected = rotaryReference(x.toFlatArray(), shape, pos, invValues, interleaved, scale);
          expectClose(rope(x, p, inv, { interleaved, scale }), expected, toleranceFor('f64'), `interleaved ${interleaved} scale ${scale}`);
        }
      }
    });
  });

  it('the inverse rotation undoes the forward; (T) positions broadcast over the batch', () => {
    tidy(() => {
      const x = randomInput([2, 5, 3, 10], { dtype: 'f64', seed: 2 });
      const inv = ropeInvFreq(10, 10000, { device: 'reference' });
      const p = positionsOn('reference', [3, 9, 27, 81, 243], [5]);
      for (const interleaved of [false, true]) {
        const y = rope(x, p, inv, { interleaved });
        const back = randomInput([2, 5, 3, 10], { dtype: 'f64', seed: 99 });
        y.backend.rope(y, p.reshape(1, 5).expand(2, 5), inv, back, { interleaved, inverse: true, scale: 1 });
        expectClose(back, x, toleranceFor('f64'), `round trip interleaved ${interleaved}`);
        // Position 3 of batch 1 equals position 3 of batch 0 (shared positions).
        const flat = y.toFlatArray();
        expect(flat.slice(150 + 90, 150 + 120)).toEqual(flat.slice(90, 120).map((_, i) => flat[150 + 90 + i]));
        expectClose(flat.slice(150 + 90, 150 + 120), rotaryReference(x.toFlatArray().slice(150, 300), [1, 5, 3, 10], [3, 9, 27, 81, 243], inv.toFlatArray(), interleaved).slice(90, 120), toleranceFor('f64'));
      }
    });
  });

  it('gradients pass gradCheck (the backward is the inverse rotation)', () => {
    const inv = ropeInvFreq(6, 100, { device: 'reference' });
    const p = positionsOn('reference', [0, 5, 11, 2, 3, 40], [2, 3]);
    for (const interleaved of [false, true]) {
      gradCheck((x) => rope(x, p, inv, { interleaved, scale: 0.9 }), [randomInput([2, 3, 2, 6], { dtype: 'f64', seed: 3 })]);
    }
    // A (B, H, T, D) tensor permuted to (B, T, H, D): strided rows.
    gradCheck((x) => rope(x.permute(0, 2, 1, 3), p, inv), [randomInput([2, 2, 3, 6], { dtype: 'f64', seed: 4 })]);
    inv.dispose();
    p.dispose();
  });

  it('errors name the op, the argument and the shapes', () => {
    tidy(() => {
      const x = randomInput([1, 3, 2, 6], { dtype: 'f32' });
      const inv = ropeInvFreq(6, 10000, { device: 'reference' });
      const p = positionsOn('reference', [0, 1, 2], [1, 3]);
      expect(() => rope(randomInput([3, 2, 6], { dtype: 'f32' }), p, inv)).toThrow(/rope: x must have 4 dimensions \(B, T, H, D\)/);
      expect(() => rope(x, positionsOn('reference', [0, 1], [1, 2]), inv)).toThrow(/rope: positions .*\[1, 2\].* must broadcast to \(B, T\) = \[1, 3\].*\[1, 3, 2, 6\]/);
      expect(() => rope(x, p, ropeInvFreq(8, 10000, { device: 'reference' }))).toThrow(/rope: invFreq must have shape \[3\].*\[4\]/);
      expect(() => rope(x, tensor([[0, 1, 2]], { device: 'reference', dtype: 'f32' }), inv)).toThrow(/rope: positions must be i32/);
      expect(() => rope(randomInput([1, 3, 2, 5], { dtype: 'f32' }), p, inv)).toThrow(/rope: the head size D must be even/);
    });
  });
});

describeSimdLevels('rope', () => {
  const shapes = [[1, 1, 1, 2], [2, 3, 5, 18], [1, 17, 3, 130]] as const;
  for (const dtype of FLOAT_DTYPES) {
    it(`${dtype}: forward and gradient match the reference, both layouts, large positions`, () => {
      tidy(() => {
        for (const shape of shapes) {
          const [B, T, , D] = shape;
          const pos = Array.from({ length: B * T }, (_, i) => (i * 7919) % 50000);
          const [xr, xc] = pair(shape, { dtype, seed: D });
          const [gr, gc] = pair(shape, { dtype, seed: D + 1 });
          const invR = ropeInvFreq(D, 10000, { device: 'reference' });
          const invC = ropeInvFreq(D, 10000, { device: 'cpu' });
          for (const interleaved of [false, true]) {
            const yr = rope(xr.detach().requiresGrad_(), positionsOn('reference', pos, [B, T]), invR, { interleaved, scale: 1.1 });
            const yc = rope(xc.detach().requiresGrad_(), positionsOn('cpu', pos, [B, T]), invC, { interleaved, scale: 1.1 });
            const label = `rope ${dtype} [${shape}] interleaved ${interleaved}`;
            expectParity(yc, yr, dtype, label);
            expectParity(gradsOf(yc, gc)[0]!, gradsOf(yr, gr)[0]!, dtype, `${label} grad`);
          }
        }
      });
    });
  }

  it('strided inputs: a (B, H, T, D) tensor permuted to (B, T, H, D) and a KV-cache slice', () => {
    tidy(() => {
      const [xr, xc] = pair([2, 4, 9, 34], { seed: 7 });
      const inv = ropeInvFreq(34, 500000, { device: 'reference' });
      const invC = ropeInvFreq(34, 500000, { device: 'cpu' });
      const pos = Array.from({ length: 18 }, (_, i) => 1000 + i);
      const yr = rope(xr.permute(0, 2, 1, 3), positionsOn('reference', pos, [2, 9]), inv);
      const yc = rope(xc.permute(0, 2, 1, 3), positionsOn('cpu', pos, [2, 9]), invC);
      expectParity(yc, yr, 'f32', 'permuted');
      // Queries 3..7 of a (B, T, H, D) cache.
      const sr = rope(xr.permute(0, 2, 1, 3).slice(1, 3, 8), positionsOn('reference', pos.slice(0, 10), [2, 5]), inv);
      const sc = rope(xc.permute(0, 2, 1, 3).slice(1, 3, 8), positionsOn('cpu', pos.slice(0, 10), [2, 5]), invC);
      expectParity(sc, sr, 'f32', 'sliced');
    });
  });
});
