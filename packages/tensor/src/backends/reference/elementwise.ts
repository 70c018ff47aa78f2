import type { ElementwiseOps } from '../../backend.js';

// In progress: the elementwise kernels are being written.
export const referenceElementwise = {} as ElementwiseOps;
