/**
 * The native elementwise kernels against the float64 reference: every op, odd sizes (one
 * size crosses the thread and tile thresholds), non-contiguous and stride-0 inputs,
 * non-contiguous outputs, every dtype, and every SIMD level.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { expectClose, randomInput, toleranceFor, type Tolerance } from '@lmflow/test-utils';
import { cpuSimdLevel, empty, getBackend, setCpuSimdLevel, tensor, tidy, type BinaryOp, type CompareOp, type DType, type ScalarOp, type Tensor, type UnaryOp, type View } from '../../index.js';

const cpu = getBackend('cpu');
const ref = getBackend('reference');
const LEVELS = ['avx512', 'avx2', 'scalar'] as const;
const original = cpuSimdLevel() as (typeof LEVELS)[number];
afterAll(() => {
  setCpuSimdLevel(original);
});

/** Runs fn at every SIMD level, restoring the level afterwards. */
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

type Layout = 'contiguous' | 'transposed' | 'strided' | 'expanded';

/** A cpu tensor in the given layout and its values as a contiguous reference tensor. */
function input(shape: number[], dtype: DType, layout: Layout, seed: number, uniform?: [number, number]): [Tensor, Tensor] {
  let x: Tensor;
  if (layout === 'expanded') {
    // Stride 0 along the first dimension: every row reads the same memory.
    x = tidy(() => randomInput([1, ...shape.slice(1)], { dtype, device: 'cpu', seed, uniform }).expand(shape));
  } else {
    x = randomInput(shape, { dtype, layout, device: 'cpu', seed, uniform });
  }
  return [x, x.to('reference')];
}

/** An output with shape on the cpu: contiguous, or a transposed view of a larger buffer. */
function output(shape: number[], dtype: DType, transposed: boolean): Tensor {
  if (!transposed || shape.length < 2) return empty(shape, { dtype, device: 'cpu' });
  const swapped = [...shape];
  [swapped[0], swapped[1]] = [swapped[1]!, swapped[0]!];
  return tidy(() => empty(swapped, { dtype, device: 'cpu' }).transpose(0, 1));
}

const UNARY_DOMAIN: Record<UnaryOp, [number, number]> = {
  neg: [-10, 10], abs: [-10, 10], exp: [-10, 10], log: [0.05, 5], sqrt: [0.05, 5], rsqrt: [0.05, 5],
  square: [-10, 10], reciprocal: [0.25, 4], sin: [-10, 10], cos: [-10, 10], tanh: [-8, 8],
  sigmoid: [-12, 12], relu: [-3, 3], silu: [-12, 12], gelu: [-8, 8], gelu_tanh: [-8, 8],
};

// (shape, layout, transposed out): odd sizes, every layout, and one case past the
// parallel threshold (32768 elements) with several tiles per thread.
const CASES: [number[], Layout, boolean][] = [
  [[1], 'contiguous', false],
  [[3], 'contiguous', false],
  [[17, 129], 'contiguous', false],
  [[129, 17], 'transposed', false],
  [[17, 3], 'strided', true],
  [[5, 33], 'expanded', false],
  [[41, 1031], 'contiguous', false],
  [[41, 1031], 'strided', true],
];

describe('cpu unary kernels match the reference', () => {
  for (const op of Object.keys(UNARY_DOMAIN) as UnaryOp[]) {
    it(`${op} and its gradient: f32, bf16, f16, f64, every layout and SIMD level`, () => {
      tidy(() => {
        for (const dtype of ['f32', 'bf16', 'f16', 'f64'] as const) {
          CASES.forEach(([shape, layout, transposedOut], c) => {
            if (dtype === 'f64' && c > 3) return; // f64 (gradient checks) need not be fast: a few shapes
            if (dtype === 'f16' && c > 5) return; // the large cases test threading, the same for every dtype
            const [x, xr] = input(shape, dtype, layout, 10 + c, UNARY_DOMAIN[op]);
            const [dy, dyr] = input(shape, dtype, 'contiguous', 50 + c);
            const y = empty(shape, { dtype, device: 'reference' });
            const dx = empty(shape, { dtype, device: 'reference' });
            ref.unary(op, xr, y);
            ref.unaryGrad(op, xr, dyr, dx);
            atEveryLevel((level) => {
              const out = output(shape, dtype, transposedOut);
              cpu.unary(op, x, out);
              expectClose(out, y, toleranceFor(dtype), `${op} ${dtype} ${layout} [${shape}] ${level}`);
              const g = output(shape, dtype, transposedOut);
              cpu.unaryGrad(op, x, dy, g);
              expectClose(g, dx, toleranceFor(dtype), `${op} grad ${dtype} ${layout} [${shape}] ${level}`);
            });
          });
        }
      });
    });
  }

  it('special values: exp, log, tanh, sigmoid and gelu at 0, infinities, NaN and the f32 limits', () => {
    tidy(() => {
      const values = [0, -0, 1, -1, Infinity, -Infinity, NaN, 88.7, 89, -87.5, -104, 1e-30, -1e-30, 1e-40, 40, -40];
      const x = tensor(values, { device: 'cpu' });
      const xr = x.to('reference');
      for (const op of ['exp', 'log', 'tanh', 'sigmoid', 'silu', 'gelu', 'gelu_tanh', 'relu', 'abs', 'sqrt', 'rsqrt'] as UnaryOp[]) {
        atEveryLevel((level) => {
          const out = empty([values.length], { device: 'cpu' });
          const expected = empty([values.length], { device: 'reference' });
          cpu.unary(op, x, out);
          ref.unary(op, xr, expected);
          const got = out.toFlatArray();
          const want = expected.toFlatArray();
          got.forEach((v, i) => {
            const e = want[i]!;
            const where = `${op}(${values[i]}) at ${level}: got ${v}, expected ${e}`;
            if (Number.isNaN(e)) expect(v, where).toBeNaN();
            else if (!Number.isFinite(e)) expect(v, where).toBe(e);
            // Results below 1e-37 may be flushed to 0 (f32 subnormals).
            else expect(Math.abs(v - e) <= 1e-37 + 2e-7 * Math.abs(e), where).toBe(true);
          });
        });
      }
    });
  });
});

function intInput(shape: number[], dtype: DType, seed: number, low: number, high: number, device = 'cpu'): Tensor {
  return tidy(() => randomInput(shape, { dtype: 'f64', device, seed, uniform: [low, high] }).cast(dtype));
}

/** a and b broadcast to shape as kernel views (stride 0 where broadcast). */
function expandTo(t: Tensor, shape: readonly number[]): View {
  const lead = shape.length - t.ndim;
  const strides = shape.map((d, i) => (i < lead || (t.shape[i - lead] === 1 && d !== 1) ? 0 : t.strides[i - lead]!));
  return { storage: t.storage, dtype: t.dtype, shape, strides, offset: t.offset };
}

const BROADCASTS: [number[], number[], number[]][] = [
  [[3, 1, 5], [4, 1], [3, 4, 5]],
  [[17, 129], [129], [17, 129]],
  [[1], [3], [3]],
  [[41, 1031], [41, 1], [41, 1031]],
  [[2, 20000], [2, 20000], [2, 20000]],
];

function toleranceOf(dtype: DType): Tolerance {
  return dtype === 'i32' || dtype === 'i64' || dtype === 'u8' ? { atol: 0, rtol: 0 } : toleranceFor(dtype);
}

describe('cpu binary, compare, scalar and where kernels match the reference', () => {
  const binaryOps: BinaryOp[] = ['add', 'sub', 'mul', 'div', 'maximum', 'minimum', 'pow'];
  for (const op of binaryOps) {
    it(`binary ${op}: broadcasting, transposed inputs, every dtype and SIMD level`, () => {
      tidy(() => {
        for (const dtype of ['f32', 'bf16', 'f16', 'f64', 'i32'] as const) {
          BROADCASTS.forEach(([sa, sb, shape], c) => {
            if ((dtype === 'f64' || dtype === 'i32') && c === 4) return;
            let a: Tensor;
            let b: Tensor;
            if (dtype === 'i32') {
              a = intInput(sa, dtype, 1 + c, op === 'pow' ? 0 : -50, op === 'pow' ? 5 : 50);
              b = intInput(sb, dtype, 7 + c, op === 'pow' ? 0 : 1, op === 'pow' ? 4 : 20);
            } else {
              const positive: [number, number] = [0.1, 3];
              a = randomInput(sa, { dtype, device: 'cpu', seed: 1 + c, uniform: op === 'pow' ? positive : undefined, layout: sa.length > 1 ? 'transposed' : 'contiguous' });
              b = randomInput(sb, { dtype, device: 'cpu', seed: 7 + c, uniform: op === 'pow' ? [-2, 2] : op === 'div' ? [0.5, 2] : undefined });
            }
            const expected = empty(shape, { dtype, device: 'reference' });
            const ar = a.to('reference');
            const br = b.to('reference');
            ref.binary(op, expandTo(ar, shape), expandTo(br, shape), expected);
            atEveryLevel((level) => {
              const out = empty(shape, { dtype, device: 'cpu' });
              cpu.binary(op, expandTo(a, shape), expandTo(b, shape), out);
              expectClose(out, expected, toleranceOf(dtype), `${op} ${dtype} [${sa}] with [${sb}] ${level}`);
            });
          });
        }
      });
    });
  }

  it('binary updates its first operand in place (out aliasing a)', () => {
    tidy(() => {
      const a = randomInput([41, 1031], { device: 'cpu', seed: 3 });
      const b = randomInput([1031], { device: 'cpu', seed: 4 });
      const bv = b.toFlatArray();
      const expected = a.toFlatArray().map((v, i) => Math.fround(v + bv[i % 1031]!));
      cpu.binary('add', a, expandTo(b, a.shape), a);
      expect(a.toFlatArray()).toEqual(expected);
    });
  });

  it('compare: every op and dtype with ties, NaN and broadcasting', () => {
    tidy(() => {
      const ops: CompareOp[] = ['eq', 'ne', 'lt', 'le', 'gt', 'ge'];
      for (const dtype of ['f32', 'bf16', 'f16', 'f64', 'i32', 'i64', 'u8'] as const) {
        // Small integers: many ties.
        const a = intInput([3, 1, 5], dtype, 11, 0, 4);
        const b = intInput([4, 1], dtype, 12, 0, 4);
        const shape = [3, 4, 5];
        for (const op of ops) {
          const expected = empty(shape, { dtype: 'u8', device: 'reference' });
          ref.compare(op, expandTo(a.to('reference'), shape), expandTo(b.to('reference'), shape), expected);
          atEveryLevel((level) => {
            const out = empty(shape, { dtype: 'u8', device: 'cpu' });
            cpu.compare(op, expandTo(a, shape), expandTo(b, shape), out);
            expect(out.toFlatArray(), `${op} ${dtype} ${level}`).toEqual(expected.toFlatArray());
          });
        }
      }
      const nan = tensor([NaN, 1, NaN], { device: 'cpu' });
      const one = tensor([1, 1, 2], { device: 'cpu' });
      const out = empty([3], { dtype: 'u8', device: 'cpu' });
      cpu.compare('eq', nan, one, out);
      expect(out.toFlatArray()).toEqual([0, 1, 0]);
      cpu.compare('ne', nan, nan, out);
      expect(out.toFlatArray()).toEqual([1, 0, 1]);
    });
  });

  it('scalar: every op, dtype and SIMD level, including fractional scalars on integers', () => {
    tidy(() => {
      const ops: ScalarOp[] = ['add', 'mul', 'pow', 'maximum', 'minimum', 'rsub', 'rdiv'];
      for (const dtype of ['f32', 'bf16', 'f16', 'f64', 'i32'] as const) {
        for (const [shape, layout] of [[[17, 129], 'transposed'], [[41, 1031], 'contiguous'], [[5], 'strided']] as const) {
          if (dtype !== 'f32' && shape.length === 2 && shape[0] === 41) continue; // one large case
          const x = dtype === 'i32' ? intInput([...shape], dtype, 5, 1, 40) : randomInput([...shape], { dtype, device: 'cpu', layout, seed: 5, uniform: [0.25, 3] });
          const xr = x.to('reference');
          for (const op of ops) {
            // 2 takes pow's exact x*x path; -1.5 is negative and fractional.
            for (const s of [2, -1.5]) {
              const expected = empty([...shape], { dtype, device: 'reference' });
              ref.scalar(op, xr, s, expected);
              atEveryLevel((level) => {
                const out = empty([...shape], { dtype, device: 'cpu' });
                cpu.scalar(op, x, s, out);
                expectClose(out, expected, toleranceOf(dtype), `${op} ${s} ${dtype} ${level}`);
              });
            }
          }
        }
      }
    });
  });

  it('where: exact for every dtype, with broadcast condition and operands', () => {
    tidy(() => {
      for (const dtype of ['f32', 'bf16', 'f16', 'f64', 'i32', 'i64', 'u8'] as const) {
        const cond = intInput([3, 1, 5], 'u8', 21, 0, 2);
        const a = intInput([4, 1], dtype, 22, 0, 100);
        const b = intInput([1], dtype, 23, 100, 200);
        const shape = [3, 4, 5];
        const expected = empty(shape, { dtype, device: 'reference' });
        ref.where(expandTo(cond.to('reference'), shape), expandTo(a.to('reference'), shape), expandTo(b.to('reference'), shape), expected);
        const out = output(shape, dtype, true);
        cpu.where(expandTo(cond, shape), expandTo(a, shape), expandTo(b, shape), out);
        expect(out.toFlatArray(), dtype).toEqual(expected.toFlatArray());
      }
      // Large i64 values are selected bit for bit (no float conversion).
      const big = tensor(new BigInt64Array([2n ** 62n + 1n, -(2n ** 60n) - 3n]), { device: 'cpu' });
      const zero = tensor(new BigInt64Array([0n, 0n]), { device: 'cpu' });
      const c = tensor(new Uint8Array([1, 1]), { device: 'cpu', dtype: 'u8' });
      const out = empty([2], { dtype: 'i64', device: 'cpu' });
      cpu.where(c, big, zero, out);
      expect(Array.from(out.dataSync() as BigInt64Array)).toEqual([2n ** 62n + 1n, -(2n ** 60n) - 3n]);
    });
  });
});

describe('cpu reductions match the reference', () => {
  const cases: [number[], number[], 'contiguous' | 'transposed' | 'strided'][] = [
    [[17, 129], [1], 'contiguous'],
    [[17, 129], [0], 'contiguous'],
    [[17, 129], [0, 1], 'transposed'],
    [[3, 4, 5], [0, 2], 'strided'],
    [[3, 4, 5], [1], 'transposed'],
    [[3, 4, 5], [], 'contiguous'],
    [[41, 1031], [1], 'contiguous'],
    [[41, 1031], [0], 'contiguous'],
    [[41, 1031], [0, 1], 'strided'],
    [[2, 3, 4, 5], [1, 3], 'transposed'],
    [[1], [0], 'contiguous'],
  ];
  for (const op of ['sum', 'max', 'min'] as const) {
    it(`${op} over one, several and all axes, every layout, dtype and SIMD level`, () => {
      tidy(() => {
        for (const dtype of ['f32', 'bf16', 'f16', 'f64', 'i32', 'u8'] as const) {
          cases.forEach(([shape, axes, layout], c) => {
            const x = dtype === 'i32' || dtype === 'u8'
              ? intInput(shape, dtype, 30 + c, 0, 100)
              : randomInput(shape, { dtype, layout, device: 'cpu', seed: 30 + c });
            const kept = shape.map((d, i) => (axes.includes(i) ? 1 : d));
            const expected = empty(kept, { dtype, device: 'reference' });
            ref.reduce(op, x.to('reference'), axes, expected);
            atEveryLevel((level) => {
              const out = empty(kept, { dtype, device: 'cpu' });
              cpu.reduce(op, x, axes, out);
              expectClose(out, expected, toleranceOf(dtype), `${op} ${dtype} [${shape}] axes [${axes}] ${layout} ${level}`);
            });
          });
        }
      });
    });
  }

  it('sums long f32 rows with double accumulation (1e8 + many small values)', () => {
    tidy(() => {
      const n = 100_003;
      const data = new Float32Array(n).fill(0.1);
      data[0] = 1e8;
      const x = tensor(data, { device: 'cpu' });
      const out = empty([1], { device: 'cpu' });
      atEveryLevel(() => {
        cpu.reduce('sum', x, [0], out);
        // float64 sum of the f32 values, rounded once.
        let s = 0;
        for (const v of data) s += v;
        expect(out.item()).toBe(Math.fround(s));
      });
    });
  });

  it('max and min propagate NaN; integer sums accumulate into a wider output', () => {
    tidy(() => {
      const x = tensor([[1, NaN, 3], [4, 5, 6]], { device: 'cpu' });
      const out = empty([2, 1], { device: 'cpu' });
      cpu.reduce('max', x, [1], out);
      expect(out.toFlatArray()).toEqual([NaN, 6]);
      cpu.reduce('min', x, [1], out);
      expect(out.toFlatArray()).toEqual([NaN, 4]);
      const mask = tensor(new Uint8Array(1000).fill(1), { device: 'cpu', dtype: 'u8' });
      const count = empty([1], { dtype: 'i64', device: 'cpu' });
      cpu.reduce('sum', mask, [0], count);
      expect(count.item()).toBe(1000);
    });
  });

  it('argmax: first maximum along any axis, NaN wins, i32 and i64 outputs', () => {
    tidy(() => {
      for (const [shape, axis, layout] of [[[17, 129], 1, 'contiguous'], [[17, 129], 0, 'transposed'], [[3, 4, 5], 1, 'strided'], [[41, 1031], 1, 'contiguous']] as const) {
        for (const dtype of ['f32', 'bf16', 'i32'] as const) {
          const x = dtype === 'i32' ? intInput([...shape], dtype, 40, 0, 10) : randomInput([...shape], { dtype, layout, device: 'cpu', seed: 40 });
          const kept = shape.map((d, i) => (i === axis ? 1 : d));
          const expected = empty(kept, { dtype: 'i64', device: 'reference' });
          ref.argmax(x.to('reference'), axis, expected);
          for (const outDtype of ['i32', 'i64'] as const) {
            const out = empty(kept, { dtype: outDtype, device: 'cpu' });
            cpu.argmax(x, axis, out);
            expect(out.toFlatArray(), `${dtype} [${shape}] axis ${axis}`).toEqual(expected.toFlatArray());
          }
        }
      }
      const x = tensor([[1, 3, 3, 0], [2, NaN, 5, NaN]], { device: 'cpu' });
      const out = empty([2, 1], { dtype: 'i32', device: 'cpu' });
      cpu.argmax(x, 1, out);
      expect(out.toFlatArray()).toEqual([1, 1]);
    });
  });

  it('kernel argument errors name the kernel, the operands and their shapes', () => {
    tidy(() => {
      const a = empty([2, 3], { device: 'cpu' });
      const b = empty([3, 2], { device: 'cpu' });
      expect(() => cpu.binary('add', a, b, a)).toThrow('binary: b has shape [3, 2] but out has shape [2, 3]; expected the same shape');
      expect(() => cpu.unary('exp', empty([2], { dtype: 'i32', device: 'cpu' }), empty([2], { dtype: 'i32', device: 'cpu' }))).toThrow(
        'unary: x must be f32, bf16, f16 or f64, got i32',
      );
      expect(() => cpu.reduce('sum', a, [1], empty([2], { device: 'cpu' }))).toThrow(/reduce: out has shape \[2\] but x \[2, 3\]/);
      expect(() => cpu.reduce('max', empty([2, 0], { device: 'cpu' }), [1], empty([2, 1], { device: 'cpu' }))).toThrow(/max over an empty axis/);
      expect(() => cpu.compare('eq', a, a, a)).toThrow('compare: out must be u8, got f32');
    });
  });
});
