import { defineConfig } from 'vitest/config';

// Tests import workspace packages from their TypeScript sources (the "lmflow-source" export
// condition), so `npm test` needs no build step.
export default defineConfig({
  resolve: { conditions: ['lmflow-source'] },
  ssr: { resolve: { conditions: ['lmflow-source'], externalConditions: ['lmflow-source'] } },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'plugins/*/src/**/*.test.ts', 'tools/**/*.test.ts'],
    pool: 'forks',
    // The leak reporter's test forces a garbage collection.
    execArgv: ['--expose-gc'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
