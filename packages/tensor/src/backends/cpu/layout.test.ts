/**
 * The native fill, copy and random kernels: bit-exact conversions between every dtype pair
 * against the reference, any strides on both sides, and the counter-based generator drawing
 * the reference's numbers.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { randomInput } from '@lmflow/test-utils';
import {
  DTYPES, Generator, bf16ToF32, cpuSimdLevel, empty, f16ToF32, f32ToBf16, f32ToF16, getBackend, rand, randn, bernoulli,
  setCpuSimdLevel, tensor, tidy, type DType, type Tensor,
} from '../../index.js';

const cpu = getBackend('cpu');
const ref = getBackend('reference');
const LEVELS = ['avx512', 'avx2', 'scalar'] as const;
const original = cpuSimdLevel() as (typeof LEVELS)[number];
afterAll(() => {
  setCpuSimdLevel(original);
});

function atEveryLevel(fn: (level: string) => void): void {
  try {
    for (const level of LEVELS) {
      setCpuSimdLevel(level);
      fn(level);
    }
  } finally {
    setCpuSimdLevel(original);
  }
}

/** The raw elements of a tensor (bit patterns for bf16/f16, bigint for i64), row-major. */
function raw(t: Tensor): unknown[] {
  return Array.from(t.dataSync() as ArrayLike<unknown>);
}

/** Values that exercise conversions: fractions, negatives, ties, out-of-range, specials. */
const SPECIAL = [
  0, -0, 1, -1, 0.5, -0.5, 1.5, -2.5, 2.75, 255, 256, 257, -129, 300.7, 65504, 65520, 65519.99, 1e5, -1e5, 3.4e38,
  1e-8, -1e-8, 6e-8, 2 ** -24, 2 ** -25, 3 * 2 ** -26, 2 ** -14, 1.00390625, 1.005859375, 2147483647, -2147483648, 4294967297,
  Infinity, -Infinity, NaN, 1 / 3, -7.9999,
];

describe('cpu copy converts exactly like the reference', () => {
  it('every dtype pair, contiguous and strided, at every SIMD level', () => {
    tidy(() => {
      const random = randomInput([61], { dtype: 'f64', device: 'reference', seed: 3, uniform: [-300, 300] }).toFlatArray();
      for (const from of DTYPES) {
        for (const to of DTYPES) {
          // The specials rounded into `from` (as the reference stores them) plus random data.
          // The reference cannot make an i64 of NaN or infinity.
          const all = [...SPECIAL, ...random].filter((v) => from !== 'i64' || Number.isFinite(v));
          const rounded = tensor(all, { dtype: 'f64', device: 'reference' }).cast(from).toFlatArray();
          const values = rounded.filter((v) => to !== 'i64' || Number.isFinite(v));
          const src = tensor(values, { dtype: 'f64', device: 'reference' }).cast(from);
          const srcCpu = src.to('cpu');
          // The same values as every other element of a buffer twice as long.
          const strided = tensor(values.flatMap((v) => [v, 0]), { dtype: 'f64', device: 'cpu' }).cast(from).slice(0, 0, undefined, 2);
          const expected = empty(src.shape, { dtype: to, device: 'reference' });
          ref.copy(src, expected);
          atEveryLevel((level) => {
            const out = empty(src.shape, { dtype: to, device: 'cpu' });
            cpu.copy(srcCpu, out);
            expect(raw(out), `${from} -> ${to} contiguous ${level}`).toEqual(raw(expected));
            const out2 = empty(src.shape, { dtype: to, device: 'cpu' });
            cpu.copy(strided, out2);
            expect(raw(out2), `${from} -> ${to} strided ${level}`).toEqual(raw(expected));
          });
        }
      }
    });
  });

  it('f16 and bf16 decode every one of the 65536 bit patterns as dtype.ts does', () => {
    tidy(() => {
      const bits = new Uint16Array(65536).map((_, i) => i);
      for (const dtype of ['f16', 'bf16'] as const) {
        const t = empty([65536], { device: 'cpu', dtype });
        cpu.upload(t.storage, bits, 0);
        atEveryLevel((level) => {
          const out = empty([65536], { device: 'cpu', dtype: 'f32' });
          cpu.copy(t, out);
          const got = out.dataSync() as Float32Array;
          const decode = dtype === 'f16' ? f16ToF32 : bf16ToF32;
          for (let i = 0; i < 65536; i++) {
            const want = Math.fround(decode(i));
            if (!Object.is(got[i], want) && !(Number.isNaN(want) && Number.isNaN(got[i]))) {
              throw new Error(`${dtype} pattern ${i.toString(16)} at ${level}: got ${got[i]}, expected ${want}`);
            }
          }
        });
      }
    });
  });

  it('f32 to f16 and bf16 rounds to nearest even exactly as dtype.ts, over 200k bit patterns', () => {
    tidy(() => {
      // Patterns spread over the whole f32 range, plus every neighbour of the f16
      // subnormal/normal and overflow thresholds.
      const n = 200_000;
      const words = new Uint32Array(n);
      for (let i = 0; i < n; i++) words[i] = Math.floor((i * 4294967296) / n) + (i % 8191);
      for (let i = 0; i < 64; i++) {
        words[i] = 0x38800000 - 32 + i;
        words[64 + i] = 0x477ff000 - 32 + i;
        words[128 + i] = 0x33000000 - 32 + i;
      }
      const f = new Float32Array(words.buffer);
      const t = tensor(f, { device: 'cpu', dtype: 'f32' });
      atEveryLevel((level) => {
        for (const [dtype, encode] of [['f16', f32ToF16], ['bf16', f32ToBf16]] as const) {
          const out = empty([n], { device: 'cpu', dtype });
          cpu.copy(t, out);
          const got = out.dataSync() as Uint16Array;
          for (let i = 0; i < n; i++) {
            if (got[i] !== encode(f[i]!)) throw new Error(`${dtype} of ${f[i]} (0x${words[i]!.toString(16)}) at ${level}: got 0x${got[i]!.toString(16)}, expected 0x${encode(f[i]!).toString(16)}`);
          }
        }
      });
    });
  });

  it('copies transposed and broadcast views, and large tensors in parallel', () => {
    tidy(() => {
      for (const dtype of ['f32', 'bf16', 'i64', 'u8'] as DType[]) {
        const base = randomInput([129, 517], { dtype: 'f64', device: 'cpu', seed: 9, uniform: [0, 200] }).cast(dtype);
        const t = base.transpose();
        const out = empty(t.shape, { dtype, device: 'cpu' });
        cpu.copy(t, out);
        const host = base.toFlatArray();
        const expected = Array.from({ length: 517 * 129 }, (_, i) => host[(i % 129) * 517 + Math.floor(i / 129)]!);
        expect(out.toFlatArray(), dtype).toEqual(expected);
      }
      const row = tensor([1, 2, 3], { device: 'cpu' });
      const expanded = { storage: row.storage, dtype: row.dtype, shape: [4, 3], strides: [0, 1], offset: 0 };
      const out = empty([4, 3], { device: 'cpu' });
      cpu.copy(expanded, out);
      expect(out.toFlatArray()).toEqual([1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3]);
    });
  });

  it('copy refuses different shapes, naming both', () => {
    tidy(() => {
      expect(() => cpu.copy(empty([2, 3], { device: 'cpu' }), empty([3, 2], { device: 'cpu' }))).toThrow(
        'copy: src has shape [2, 3] but out has shape [3, 2]; expected the same shape',
      );
    });
  });
});

describe('cpu fill', () => {
  it('writes the value rounded to every dtype, into any strides', () => {
    tidy(() => {
      for (const dtype of DTYPES) {
        for (const value of [0, -2.5, 1 / 3, 300.7, 65519.99]) {
          const expected = empty([7, 5], { dtype, device: 'reference' });
          ref.fill(expected, value);
          const out = empty([7, 5], { dtype, device: 'cpu' });
          cpu.fill(out, value);
          expect(raw(out), `${dtype} ${value}`).toEqual(raw(expected));
        }
      }
      const big = empty([4, 40000], { device: 'cpu' });
      cpu.fill(big, 0);
      const column = big.slice(1, 3, 4);
      cpu.fill(column, 7);
      const data = big.toFlatArray();
      expect(data.filter((v) => v === 7).length).toBe(4);
      expect(data[3]).toBe(7);
      expect(data[40003]).toBe(7);
    });
  });
});

describe('cpu random matches the counter-based reference generator', () => {
  it('uniform and bernoulli are bit-identical, normal within f32 rounding, for any seed and offset', () => {
    tidy(() => {
      for (const dtype of ['f32', 'bf16', 'f16', 'f64'] as const) {
        for (const [seed, offset] of [[0, 0], [12345, 17], [2 ** 40 + 3, 2 ** 33 - 5]]) {
          const shape = [41, 1031];
          for (const kind of ['uniform', 'normal', 'bernoulli'] as const) {
            const [a, b] = kind === 'uniform' ? [-2, 3] : kind === 'normal' ? [0.5, 2] : [0.3, 0];
            const expected = empty(shape, { dtype, device: 'reference' });
            ref.random(expected, kind, a, b, seed, offset);
            const out = empty(shape, { dtype, device: 'cpu' });
            cpu.random(out, kind, a, b, seed, offset);
            if (kind === 'normal') {
              const got = out.toFlatArray();
              const want = expected.toFlatArray();
              // Within one rounding of the stored dtype (libm's log and cos and V8's differ in the
              // last bits of a double).
              const step = dtype === 'bf16' ? 2 ** -7 : dtype === 'f16' ? 2 ** -10 : dtype === 'f32' ? 2 ** -23 : 1e-13;
              // f16 subnormals have a fixed step; f64 values near 0 (cos near pi/2) keep the
              // absolute error of the double computation.
              const floor = dtype === 'f16' ? 2 ** -24 : dtype === 'f64' ? 1e-13 : 1e-30;
              got.forEach((v, i) => {
                if (Math.abs(v - want[i]!) > step * Math.abs(want[i]!) + floor) throw new Error(`normal ${dtype} element ${i}: ${v} vs ${want[i]}`);
              });
            } else {
              expect(raw(out), `${kind} ${dtype} seed ${seed} offset ${offset}`).toEqual(raw(expected));
            }
          }
        }
      }
    });
  });

  it('the creation ops reproduce: same seed and offset, same numbers on both backends; other offsets differ', () => {
    tidy(() => {
      const draw = (device: string, offset: number) => {
        const g = new Generator(7);
        g.offset = offset;
        return rand([1000], { device, generator: g }).toFlatArray();
      };
      expect(draw('cpu', 0)).toEqual(draw('reference', 0));
      expect(draw('cpu', 0)).toEqual(draw('cpu', 0));
      const shifted = draw('cpu', 1);
      // Offset 1 is the same stream moved by one element.
      expect(shifted.slice(0, 999)).toEqual(draw('cpu', 0).slice(1));
      const other = draw('cpu', 5000);
      expect(other.filter((v, i) => v === draw('cpu', 0)[i]).length).toBeLessThan(5);
      const masks = [bernoulli([1000], 0.5, { device: 'cpu', generator: new Generator(3) }), bernoulli([1000], 0.5, { device: 'reference', generator: new Generator(3) })];
      expect(masks[0]!.toFlatArray()).toEqual(masks[1]!.toFlatArray());
    });
  });

  it('has the right moments: normal mean 0 and std 1, uniform mean 1/2, bernoulli frequency p', () => {
    tidy(() => {
      const n = 100_000;
      const z = randn([n], { device: 'cpu', generator: new Generator(11) }).toFlatArray();
      const mean = z.reduce((s, v) => s + v, 0) / n;
      const std = Math.sqrt(z.reduce((s, v) => s + (v - mean) ** 2, 0) / n);
      // Standard errors: 1/sqrt(n) ~ 0.003 for the mean, 1/sqrt(2n) ~ 0.0022 for the std.
      expect(Math.abs(mean)).toBeLessThan(0.015);
      expect(Math.abs(std - 1)).toBeLessThan(0.012);
      const within1 = z.filter((v) => Math.abs(v) < 1).length / n;
      expect(Math.abs(within1 - 0.6827)).toBeLessThan(0.01);
      const u = rand([n], { device: 'cpu', generator: new Generator(12) }).toFlatArray();
      expect(Math.abs(u.reduce((s, v) => s + v, 0) / n - 0.5)).toBeLessThan(0.005);
      expect(Math.min(...u)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...u)).toBeLessThan(1);
      const b = bernoulli([n], 0.2, { device: 'cpu', generator: new Generator(13) }).toFlatArray();
      expect(Math.abs(b.reduce((s, v) => s + v, 0) / n - 0.2)).toBeLessThan(0.006);
    });
  });

  it('writes strided outputs in row-major element order', () => {
    tidy(() => {
      const dense = empty([5, 7], { device: 'cpu' });
      cpu.random(dense, 'uniform', 0, 1, 99, 0);
      const t = empty([7, 5], { device: 'cpu' }).transpose();
      cpu.random(t, 'uniform', 0, 1, 99, 0);
      expect(t.toFlatArray()).toEqual(dense.toFlatArray());
    });
  });
});
