import { defineConfig } from 'tsup';
import { lmflowPreset } from '../../tools/tsup/preset.js';

// Two entries: the library (runCli, defineCommand) and the `lmflow` bin, which keeps its
// shebang (esbuild preserves it; tsup marks the file executable).
export default defineConfig(lmflowPreset({ entry: ['src/index.ts', 'src/main.ts'] }));
