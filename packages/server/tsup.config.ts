import { defineConfig } from 'tsup';
import { lmflowPreset } from '../../tools/tsup/preset.js';

// The engine worker is its own entry: worker threads start from a file.
export default defineConfig(lmflowPreset({ entry: { index: 'src/index.ts', 'engine-worker': 'src/engine/engine-worker.ts' } }));
