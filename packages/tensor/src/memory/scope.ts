/**
 * Tensor lifetimes. Memory is released explicitly: `t.dispose()`, a `tidy(fn)` scope that
 * disposes every tensor created inside it except what fn returns, or `using t = ...` where
 * the runtime has explicit resource management. Garbage collection never frees tensor memory
 * (device memory is too scarce to wait for it); the leak reporter only tells you.
 */
// A cycle with tensor.ts, harmless: Tensor is only used when functions run, never at load.
import { Tensor } from '../tensor.js';

const scopes: Set<Tensor>[] = [];

/** Called for every new tensor: the innermost tidy scope will own it. */
export function trackInScope(tensor: Tensor): void {
  scopes[scopes.length - 1]?.add(tensor);
}

/** Takes tensors out of every enclosing tidy scope so they outlive them. */
export function keep<T extends Tensor | readonly Tensor[]>(tensors: T): T {
  const list = Array.isArray(tensors) ? tensors : [tensors as Tensor];
  for (const t of list) for (const scope of scopes) scope.delete(t);
  return tensors;
}

/**
 * Runs fn and disposes the tensors it created, except those in its result (a tensor, or
 * arrays/plain objects holding tensors), which move to the enclosing scope. If fn throws,
 * everything it created is disposed. fn must be synchronous.
 */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<Tensor>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (error) {
    scopes.pop();
    for (const t of scope) t.dispose();
    throw error;
  }
  scopes.pop();
  if (result instanceof Promise) {
    for (const t of scope) t.dispose();
    throw new Error('tidy: the function returned a Promise; tidy scopes are synchronous (await outside them)');
  }
  const kept = new Set<Tensor>();
  collectTensors(result, kept, 0);
  const parent = scopes[scopes.length - 1];
  for (const t of scope) {
    if (kept.has(t)) parent?.add(t);
    else t.dispose();
  }
  return result;
}

function collectTensors(value: unknown, into: Set<Tensor>, depth: number): void {
  if (value === null || typeof value !== 'object' || depth > 8) return;
  if (value instanceof Tensor) {
    into.add(value);
    return;
  }
  if (Array.isArray(value)) {
    for (const v of value) collectTensors(v, into, depth + 1);
  } else if (Object.getPrototypeOf(value) === Object.prototype || value instanceof Map) {
    const values = value instanceof Map ? value.values() : Object.values(value);
    for (const v of values) collectTensors(v, into, depth + 1);
  }
}
