import type { OptimOps } from '../../backend.js';

// In progress: the optim kernels are being written.
export const referenceOptim = {} as OptimOps;
