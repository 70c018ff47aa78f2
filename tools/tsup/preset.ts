/**
 * The one tsup preset every package builds with: ESM only, Node 20, type declarations,
 * source maps, workspace packages and dependencies left external.
 */
import type { Options } from 'tsup';

export function lmflowPreset(overrides: Options = {}): Options {
  return {
    entry: ['src/index.ts'],
    format: ['esm'],
    target: 'node20',
    platform: 'node',
    dts: true,
    sourcemap: true,
    clean: true,
    splitting: false,
    treeshake: true,
    // Tests (*.test.ts) live beside the code but never ship.
    ...overrides,
  };
}
