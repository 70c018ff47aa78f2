/**
 * The random state a resumed run must restore: the tensor package's default generator (it
 * draws dropout masks and random init) and the seed of the data order (see data-order.ts).
 * The default generator is counter-based, so its state is two integers.
 */
import { defaultGenerator, type GeneratorState } from '@lmflow/tensor';

export interface RngState {
  /** Seed of the data order (`--seed`). */
  dataSeed: number;
  /** @lmflow/tensor's defaultGenerator: its seed and next unused counter. */
  generator: GeneratorState;
}

export function captureRngState(dataSeed: number): RngState {
  return { dataSeed, generator: defaultGenerator.getState() };
}

/** Puts the default generator back where the checkpoint left it; returns the data seed. */
export function restoreRngState(state: RngState): number {
  const { seed, offset } = state.generator;
  for (const [field, value] of [['generator.seed', seed], ['generator.offset', offset], ['dataSeed', state.dataSeed]] as const) {
    if (!Number.isSafeInteger(value) || value < 0) throw new Error(`RNG state: ${field} is ${value}, expected a non-negative integer`);
  }
  defaultGenerator.setState({ seed, offset });
  return state.dataSeed;
}
