import type { NnOps } from '../../backend.js';

// In progress: the nn kernels are being written.
export const cpuNn = {} as NnOps;
