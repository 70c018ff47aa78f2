import type { MatmulOps } from '../../backend.js';

// In progress: the matmul kernels are being written.
export const cpuMatmul = {} as MatmulOps;
