/**
 * Counting live tensors, and reporting tensors that were garbage-collected without being
 * disposed. Tests take a baseline, run a step, and assert the count came back.
 */
import type { Shape } from '../shape.js';

let live = 0;

export function tensorCreated(): void {
  live++;
}

export function tensorDisposed(): void {
  live--;
}

/** Tensors created and not yet disposed (saved tensors of unreleased graphs included). */
export function liveTensorCount(): number {
  return live;
}

export interface LeakReport {
  id: number;
  dtype: string;
  shape: Shape;
  /** Where the tensor was created, when the reporter was enabled with stacks. */
  stack?: string;
}

interface Held {
  report: LeakReport;
  disposed: boolean;
}

let registry: FinalizationRegistry<Held> | null = null;
let captureStacks = false;
const heldByTensor = new WeakMap<object, Held>();

/**
 * Reports every tensor that the garbage collector reclaims before it was disposed.
 * `onLeak` defaults to a console warning; `stacks` records creation stacks (slow).
 */
export function enableLeakReporter(options: { onLeak?: (leak: LeakReport) => void; stacks?: boolean } = {}): void {
  const onLeak = options.onLeak ?? ((leak: LeakReport) => {
    console.warn(`@lmflow/tensor: tensor #${leak.id} (${leak.dtype} [${leak.shape.join(', ')}]) was garbage-collected without dispose()${leak.stack ? `\n${leak.stack}` : ''}`);
  });
  captureStacks = options.stacks ?? false;
  registry = new FinalizationRegistry<Held>((held) => {
    if (!held.disposed) onLeak(held.report);
  });
}

export function disableLeakReporter(): void {
  registry = null;
}

export function watchForLeak(tensor: object, id: number, dtype: string, shape: Shape): void {
  if (!registry) return;
  const report: LeakReport = { id, dtype, shape };
  if (captureStacks) report.stack = new Error().stack?.split('\n').slice(3).join('\n');
  const held = { report, disposed: false };
  heldByTensor.set(tensor, held);
  registry.register(tensor, held);
}

export function markDisposedForLeaks(tensor: object): void {
  const held = heldByTensor.get(tensor);
  if (held) held.disposed = true;
}
