/**
 * The reference backend: plain TypeScript loops over float64 copies of the data. Slow and
 * obviously correct; every other backend is tested against it.
 */
import type { Backend } from '../../backend.js';
import { hostMemoryOps } from '../host-storage.js';
import { referenceLayout } from './layout.js';
import { referenceElementwise } from './elementwise.js';
import { referenceMatmul } from './matmul.js';
import { referenceIndex } from './index-ops.js';
import { referenceNn } from './nn.js';
import { referenceOptim } from './optim.js';
import { referenceQuant } from './quant.js';

export function createReferenceBackend(): Backend {
  const backend: Backend = {
    name: 'reference',
    device: 'reference',
    ...hostMemoryOps(() => backend, (src, out) => referenceLayout.copy(src, out)),
    ...referenceLayout,
    ...referenceElementwise,
    ...referenceMatmul,
    ...referenceIndex,
    ...referenceNn,
    ...referenceOptim,
    ...referenceQuant,
  };
  return backend;
}
