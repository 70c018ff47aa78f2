import type { NnOps } from '../../backend.js';

// In progress: the nn kernels are being written.
export const referenceNn = {} as NnOps;
