/**
 * @internal Helpers for the nn tests: the same random values on the reference and cpu
 * backends in awkward layouts, gradients of one recorded op, and a describe block per SIMD
 * level of the native kernels.
 */
import { afterAll, beforeAll, describe } from 'vitest';
import { expectClose, toleranceFor } from '@lmflow/test-utils';
import { Generator, cpuSimdLevel, rand, randn, setCpuSimdLevel, tidy, type DType, type Tensor } from '../../index.js';

export const FLOAT_DTYPES = ['f32', 'bf16', 'f16'] as const;
export const SIMD_LEVELS = ['avx512', 'avx2', 'scalar'] as const;

export interface PairOptions {
  dtype?: DType;
  seed?: number;
  /**
   * 'contiguous'; 'rows': every other entry of dimension 0 (rows stay dense, as in a KV
   * cache slice); 'transposed': the last two dimensions swapped; 'strided': every other
   * element of the last dimension.
   */
  layout?: 'contiguous' | 'rows' | 'transposed' | 'strided';
  /** Uniform in [low, high) instead of standard normal. */
  uniform?: [number, number];
}

/** [reference, cpu] tensors holding the same values (rounded to dtype) in the same layout. */
export function pair(shape: readonly number[], options: PairOptions = {}): [Tensor, Tensor] {
  const { dtype = 'f32', seed = 1, layout = 'contiguous' } = options;
  const base = [...shape];
  const last = base.length - 1;
  if (layout === 'rows') base[0] = base[0]! * 2;
  if (layout === 'strided') base[last] = base[last]! * 2;
  if (layout === 'transposed') [base[last], base[last - 1]] = [base[last - 1]!, base[last]!];
  const view = (t: Tensor): Tensor => {
    if (layout === 'rows') return t.slice(0, 0, undefined, 2);
    if (layout === 'strided') return t.slice(-1, 0, undefined, 2);
    if (layout === 'transposed') return t.transpose(-1, -2);
    return t.reshape(shape);
  };
  return tidy(() => {
    const generator = new Generator(seed);
    const f32 = options.uniform
      ? rand(base, { device: 'reference', generator, low: options.uniform[0], high: options.uniform[1] })
      : randn(base, { device: 'reference', generator });
    const ref = f32.cast(dtype);
    const cpu = ref.to('cpu');
    return [view(ref), view(cpu)];
  });
}

/**
 * Gradients of the op that produced `out` for an output gradient g, by running its recorded
 * backward directly (one op, on any backend, without the engine's extra kernels).
 */
export function gradsOf(out: Tensor, g: Tensor): (Tensor | null)[] {
  const node = out.gradFn;
  if (!node?.backward) throw new Error(`gradsOf: ${out.describe()} has no recorded backward`);
  const needs = node.edges.map((e) => e !== null);
  return tidy(() => [...node.backward!(g, node.saved, needs)]);
}

/** cpu against reference with the tolerance of dtype, widened by `factor`. */
export function expectParity(cpu: Tensor, ref: Tensor, dtype: DType, label: string, factor = 1): void {
  const tol = toleranceFor(dtype);
  expectClose(cpu, ref, { atol: tol.atol * factor, rtol: tol.rtol * factor }, label);
}

/** One describe block per SIMD level of the native kernels, restoring the level after. */
export function describeSimdLevels(name: string, body: (level: (typeof SIMD_LEVELS)[number]) => void): void {
  for (const level of SIMD_LEVELS) {
    describe(`${name} (cpu, ${level})`, () => {
      let previous = '';
      beforeAll(() => {
        previous = cpuSimdLevel();
        setCpuSimdLevel(level);
      });
      afterAll(() => {
        setCpuSimdLevel(previous as (typeof SIMD_LEVELS)[number]);
      });
      body(level);
    });
  }
}
