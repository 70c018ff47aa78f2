/**
 * Optimizer state (a Map of tensors and numbers, see Optimizer.stateDict) to and from one
 * tensor file. Tensors go in as they are; the numbers (per-parameter step counts) go in the
 * file's string metadata as one JSON object, so a single file holds the whole state.
 */
import type { Tensor } from '@lmflow/tensor';
import { loadSafetensors, saveSafetensors } from '@lmflow/models';

/** How tensor files are written and read; the default is safetensors (@lmflow/models). */
export interface TensorStateIO {
  write(file: string, tensors: ReadonlyMap<string, Tensor>, metadata: Record<string, string>): Promise<void>;
  read(file: string, device?: string): Promise<{ tensors: Map<string, Tensor>; metadata: Record<string, string> }>;
}

export const safetensorsIO: TensorStateIO = {
  write: (file, tensors, metadata) => saveSafetensors(file, tensors, { metadata }),
  async read(file, device) {
    const contents = await loadSafetensors(file, device === undefined ? {} : { device });
    return { tensors: contents.tensors, metadata: { ...(contents.metadata ?? {}) } };
  },
};

const NUMBERS_KEY = 'lmflow.numbers';
const FORMAT_KEY = 'format';
const FORMAT = 'lmflow-optimizer-state-v1';

export async function saveTensorState(file: string, state: ReadonlyMap<string, Tensor | number>, io: TensorStateIO = safetensorsIO): Promise<void> {
  const tensors = new Map<string, Tensor>();
  const numbers: Record<string, number> = {};
  for (const [key, value] of state) {
    if (typeof value === 'number') {
      if (!Number.isFinite(value)) throw new Error(`saveTensorState ${file}: "${key}" is ${value}, expected a finite number`);
      numbers[key] = value;
    } else {
      tensors.set(key, value);
    }
  }
  await io.write(file, tensors, { [FORMAT_KEY]: FORMAT, [NUMBERS_KEY]: JSON.stringify(numbers) });
}

/** The state saved by saveTensorState, tensors on `device`; the caller owns (and disposes) them. */
export async function loadTensorState(file: string, options: { device?: string; io?: TensorStateIO } = {}): Promise<Map<string, Tensor | number>> {
  const { tensors, metadata } = await (options.io ?? safetensorsIO).read(file, options.device);
  const fail = (what: string): never => {
    for (const t of tensors.values()) t.dispose();
    throw new Error(`optimizer state ${file}: ${what}`);
  };
  if (metadata[FORMAT_KEY] !== FORMAT) fail(`metadata "${FORMAT_KEY}" is ${JSON.stringify(metadata[FORMAT_KEY])}, expected "${FORMAT}"`);
  let numbers: unknown;
  try {
    numbers = JSON.parse(metadata[NUMBERS_KEY] ?? '');
  } catch {
    fail(`metadata "${NUMBERS_KEY}" is not valid JSON`);
  }
  if (!numbers || typeof numbers !== 'object' || Array.isArray(numbers)) fail(`metadata "${NUMBERS_KEY}" must be a JSON object of numbers`);
  const state = new Map<string, Tensor | number>(tensors);
  for (const [key, value] of Object.entries(numbers as Record<string, unknown>)) {
    if (typeof value !== 'number' || !Number.isFinite(value)) fail(`metadata "${NUMBERS_KEY}": "${key}" is ${JSON.stringify(value)}, expected a finite number`);
    if (state.has(key)) fail(`"${key}" is both a tensor and a number`);
    state.set(key, value as number);
  }
  return state;
}
