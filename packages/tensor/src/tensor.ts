/**
 * The Tensor: a strided view of ref-counted storage on one device, with autograd fields.
 *
 * Ops live in src/ops and install themselves as methods (`a.add(b)` is `add(a, b)`), so this
 * file holds only what every op needs: identity, storage ownership, reading data, disposal.
 */
import type { Backend, Storage, View } from './backend.js';
import { isFloat, readElement, type DType, type HostArray } from './dtype.js';
import { contiguousStrides, formatShape, isContiguous, numel, type Shape } from './shape.js';
import { trackInScope } from './memory/scope.js';
import { markDisposedForLeaks, tensorCreated, tensorDisposed, watchForLeak } from './memory/stats.js';
import type { GradNode } from './autograd/node.js';

// Storage is shared by views: it goes back to its backend when the last view is disposed.
const storageRefs = new WeakMap<Storage, number>();

function retainStorage(storage: Storage): void {
  storageRefs.set(storage, (storageRefs.get(storage) ?? 0) + 1);
}

function releaseStorage(storage: Storage): void {
  const refs = (storageRefs.get(storage) ?? 1) - 1;
  if (refs > 0) {
    storageRefs.set(storage, refs);
  } else {
    storageRefs.delete(storage);
    storage.backend.release(storage);
  }
}

/** How many live tensors share this storage (1 means a tensor owns it alone). */
export function storageRefCount(storage: Storage): number {
  return storageRefs.get(storage) ?? 0;
}

let nextId = 1;
/** Hook set by autograd/node.ts: releases a graph node when its output is disposed. */
let releaseGradFn: ((node: GradNode) => void) | null = null;
export function setGradFnReleaser(fn: (node: GradNode) => void): void {
  releaseGradFn = fn;
}

export class Tensor implements View {
  readonly id = nextId++;
  /** @internal The graph node that produced this tensor, when it was recorded. */
  gradFn: GradNode | null = null;
  /** Accumulated gradient (leaves that require grad, after backward()). */
  grad: Tensor | null = null;
  /** Optional label used in error messages (parameter names). */
  name: string | undefined;
  #requiresGrad = false;
  #disposed = false;

  /** @internal Use the creation functions (tensor, zeros, ...) or ops; they own the storage. */
  constructor(
    readonly storage: Storage,
    readonly dtype: DType,
    readonly shape: Shape,
    readonly strides: readonly number[],
    readonly offset: number,
    options: { track?: boolean } = {},
  ) {
    retainStorage(storage);
    tensorCreated();
    if (options.track !== false) trackInScope(this);
    watchForLeak(this, this.id, dtype, shape);
  }

  get backend(): Backend {
    return this.storage.backend;
  }

  /** 'cpu', 'reference', 'cuda:0', ... */
  get device(): string {
    return this.storage.backend.device;
  }

  get ndim(): number {
    return this.shape.length;
  }

  /** Number of elements. */
  get size(): number {
    return numel(this.shape);
  }

  get isDisposed(): boolean {
    return this.#disposed;
  }

  get requiresGrad(): boolean {
    return this.#requiresGrad;
  }

  set requiresGrad(value: boolean) {
    if (value && !isFloat(this.dtype)) {
      throw new Error(`requiresGrad: only floating tensors can require gradients; ${this.describe()} is ${this.dtype}`);
    }
    if (!value && this.gradFn) {
      throw new Error(`requiresGrad: ${this.describe()} was computed by "${this.gradFn.op}"; use detach() to stop gradients instead`);
    }
    this.#requiresGrad = value;
  }

  /** Marks a leaf as trainable (or not) and returns it, like torch's requires_grad_(). */
  requiresGrad_(value = true): this {
    this.requiresGrad = value;
    return this;
  }

  /** A leaf is a tensor not computed by a recorded op: parameters and inputs. */
  get isLeaf(): boolean {
    return this.gradFn === null;
  }

  isContiguous(): boolean {
    return isContiguous(this.shape, this.strides);
  }

  /** "tensor #12 (f32 [3, 4] on cpu)", or with its name when it has one. */
  describe(): string {
    const label = this.name ? `"${this.name}"` : `tensor #${this.id}`;
    return `${label} (${this.dtype} ${formatShape(this.shape)} on ${this.device})`;
  }

  /** Throws if the tensor was disposed; every op calls this on its inputs. */
  assertLive(op: string): void {
    if (this.#disposed) {
      throw new Error(`${op}: ${this.describe()} was disposed and cannot be used`);
    }
  }

  /** Frees this view; the storage goes back to the backend when no view uses it. Idempotent. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    tensorDisposed();
    markDisposedForLeaks(this);
    releaseStorage(this.storage);
    if (this.grad) {
      this.grad.dispose();
      this.grad = null;
    }
    const node = this.gradFn;
    if (node) {
      this.gradFn = null;
      releaseGradFn?.(node);
    }
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  /** @internal A second handle on the same memory, outside tidy scopes (saved tensors). */
  alias(): Tensor {
    this.assertLive('alias');
    return new Tensor(this.storage, this.dtype, this.shape, this.strides, this.offset, { track: false });
  }

  /** A view of the same memory that is cut from the graph (torch's detach). */
  detach(): Tensor {
    this.assertLive('detach');
    return new Tensor(this.storage, this.dtype, this.shape, this.strides, this.offset);
  }

  /** A contiguous host copy of the data, after pending device work. */
  async data(): Promise<HostArray> {
    this.assertLive('data');
    return this.backend.download(this);
  }

  /** Synchronous data(); blocks until the device is done. */
  dataSync(): HostArray {
    this.assertLive('dataSync');
    return this.backend.downloadSync(this);
  }

  /** The elements as JS numbers (bf16/f16 decoded, i64 converted), row-major. */
  toFlatArray(): number[] {
    const data = this.dataSync();
    const out = new Array<number>(data.length);
    for (let i = 0; i < data.length; i++) out[i] = readElement(this.dtype, data, i);
    return out;
  }

  /** Nested arrays in the tensor's shape (a number for a 0-d tensor). */
  toArray(): unknown {
    const flat = this.toFlatArray();
    if (this.ndim === 0) return flat[0];
    const build = (dim: number, start: number): unknown[] => {
      const n = this.shape[dim]!;
      const step = numel(this.shape.slice(dim + 1));
      return Array.from({ length: n }, (_, i) =>
        dim === this.ndim - 1 ? flat[start + i] : build(dim + 1, start + i * step),
      );
    };
    return build(0, 0);
  }

  /** The value of a one-element tensor. */
  item(): number {
    if (this.size !== 1) throw new Error(`item: ${this.describe()} has ${this.size} elements, expected 1`);
    return this.toFlatArray()[0]!;
  }

  toString(): string {
    const flat = this.size <= 16 ? ` ${JSON.stringify(this.toArray())}` : '';
    return `Tensor(${this.dtype} ${formatShape(this.shape)} on ${this.device}${this.requiresGrad ? ', requiresGrad' : ''})${flat}`;
  }
}

/** @internal A new contiguous tensor with uninitialised memory on a backend. */
export function emptyOn(backend: Backend, shape: Shape, dtype: DType): Tensor {
  const storage = backend.allocate(dtype, numel(shape));
  return new Tensor(storage, dtype, [...shape], contiguousStrides(shape), 0);
}

/** @internal A view of t's storage with another shape, strides and offset. */
export function viewOf(t: Tensor, shape: Shape, strides: readonly number[], offset: number): Tensor {
  return new Tensor(t.storage, t.dtype, shape, strides, offset);
}
