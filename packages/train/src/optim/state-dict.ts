/**
 * Optimizer state as a flat map keyed `<parameter name>.<field>` (torch's per-parameter state
 * names: `model.layers.0.mlp.up_proj.weight.exp_avg`), shared by AdamW and SGD: parsing keys
 * back into per-parameter entries and copying loaded tensors into state the optimizer owns.
 */
import { clone, formatShape, isFloat, keep, noGrad, to, type DType, type Tensor } from '@lmflow/tensor';

/** State fields of one parameter, by field name. */
export type ParamState = Map<string, Tensor | number>;

/**
 * Groups a state map by parameter. Every key must be `<known parameter>.<known field>`:
 * a key for a parameter the optimizer does not hold fails (nothing is dropped silently).
 */
export function groupStateByParam(optimizer: string, state: Map<string, Tensor | number>, params: ReadonlyMap<string, Tensor>, fields: readonly string[]): Map<string, ParamState> {
  if (!(state instanceof Map)) throw new Error(`${optimizer}.loadStateDict: expected a Map of state, got ${typeof state}`);
  const byParam = new Map<string, ParamState>();
  for (const [key, value] of state) {
    const field = fields.find((f) => key.endsWith(`.${f}`));
    if (!field) {
      throw new Error(`${optimizer}.loadStateDict: key "${key}" does not end with a known state field (${fields.map((f) => `.${f}`).join(', ')})`);
    }
    const name = key.slice(0, key.length - field.length - 1);
    if (!params.has(name)) {
      const known = [...params.keys()];
      const sample = known.slice(0, 3).map((n) => `"${n}"`).join(', ');
      throw new Error(`${optimizer}.loadStateDict: key "${key}" is state of parameter "${name}", which is not in the optimizer's groups (${known.length} parameters, e.g. ${sample || 'none'}); restore the same trainable set before loading`);
    }
    let entry = byParam.get(name);
    if (!entry) byParam.set(name, (entry = new Map()));
    entry.set(field, value);
  }
  return byParam;
}

/** A state field that must be a number (step counts). */
export function numberField(optimizer: string, name: string, entry: ParamState, field: string, check: (v: number) => boolean, expected: string): number {
  const value = entry.get(field);
  if (typeof value !== 'number' || !check(value)) {
    throw new Error(`${optimizer}.loadStateDict: "${name}.${field}" is ${describeValue(value)}, expected ${expected}`);
  }
  return value;
}

/**
 * A copy of a loaded state tensor that the optimizer owns: on the parameter's device, in
 * `dtype`, contiguous, with the parameter's shape, and outside any tidy scope.
 */
export function ownedStateTensor(optimizer: string, name: string, entry: ParamState, field: string, param: Tensor, dtype: DType): Tensor {
  const value = entry.get(field);
  const key = `"${name}.${field}"`;
  if (value === undefined) throw new Error(`${optimizer}.loadStateDict: ${key} is missing (the state of "${name}" has ${[...entry.keys()].join(', ')})`);
  if (typeof value === 'number' || typeof (value as Tensor).describe !== 'function') {
    throw new Error(`${optimizer}.loadStateDict: ${key} is ${describeValue(value)}, expected a tensor`);
  }
  if (value.isDisposed) throw new Error(`${optimizer}.loadStateDict: ${key} was disposed before loading`);
  if (!isFloat(value.dtype)) throw new Error(`${optimizer}.loadStateDict: ${key} is ${value.dtype}, expected a floating tensor (${dtype})`);
  if (formatShape(value.shape) !== formatShape(param.shape)) {
    throw new Error(`${optimizer}.loadStateDict: ${key} has shape ${formatShape(value.shape)}, but parameter "${name}" has shape ${formatShape(param.shape)}`);
  }
  return noGrad(() => {
    const onDevice = value.device === param.device ? value : to(value, param.device);
    const typed = onDevice.dtype === dtype ? clone(onDevice) : onDevice.cast(dtype);
    if (onDevice !== value) onDevice.dispose();
    return keep(typed);
  });
}

/** Fails when a parameter's state has fields the optimizer does not expect for it. */
export function rejectExtraFields(optimizer: string, name: string, entry: ParamState, expected: readonly string[], why = ''): void {
  for (const field of entry.keys()) {
    if (!expected.includes(field)) {
      throw new Error(`${optimizer}.loadStateDict: "${name}.${field}" is not expected for this parameter${why ? ` (${why})` : ''}; expected ${expected.map((f) => `"${name}.${f}"`).join(', ')}`);
    }
  }
}

function describeValue(value: unknown): string {
  if (value === undefined) return 'missing';
  if (typeof value === 'number') return String(value);
  if (value && typeof (value as Tensor).describe === 'function') return `a tensor ${(value as Tensor).describe()}`;
  return JSON.stringify(value) ?? typeof value;
}
