/**
 * The --device check every model command shares: the tensor package's own parser decides, so a
 * flag that passes here is one the model loader accepts.
 */
import { normalizeDevice } from '@lmflow/tensor';

export function checkDevice(value: string): string | undefined {
  try {
    normalizeDevice(value);
    return undefined;
  } catch {
    return 'cpu, reference or cuda:N';
  }
}
