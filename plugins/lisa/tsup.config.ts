import { defineConfig } from 'tsup';
import { lmflowPreset } from '../../tools/tsup/preset.js';

export default defineConfig(lmflowPreset());
