/**
 * Memory operations shared by the two host backends (reference and cpu): storage is a typed
 * array from the host caching allocator.
 */
import { hostArray, itemSize, type HostArray } from '../dtype.js';
import { contiguousStrides, isContiguous, numel } from '../shape.js';
import type { Backend, MemoryOps, Storage, View } from '../backend.js';
import { allocateHost, releaseHost } from './host-memory.js';

// Arrays adopted with wrapHost belong to their owner, not to the allocator's cache.
const adopted = new WeakSet<object>();

export function hostMemoryOps(self: () => Backend, copyStrided: (src: View, out: View) => void): MemoryOps {
  return {
    allocate(dtype, length) {
      return { backend: self(), dtype, length, handle: allocateHost(dtype, length) };
    },
    release(storage) {
      if (!adopted.has(storage.handle as object)) releaseHost(storage.handle as HostArray);
    },
    wrapHost(dtype, data) {
      adopted.add(data);
      return { backend: self(), dtype, length: data.length, handle: data };
    },
    upload(storage, data, offset) {
      if (data.length + offset > storage.length) {
        throw new Error(`upload: ${data.length} elements at offset ${offset} do not fit a storage of ${storage.length}`);
      }
      (storage.handle as HostArray).set(data as never, offset);
    },
    async download(view) {
      return downloadSync(view);
    },
    downloadSync,
    async sync() {},
  };

  // A fresh array the caller owns (never from the cache: it outlives the tensor).
  function downloadSync(view: View): HostArray {
    const n = numel(view.shape);
    const source = view.storage.handle as HostArray;
    if (isContiguous(view.shape, view.strides)) {
      return source.slice(view.offset, view.offset + n);
    }
    const out = hostArray(view.dtype, new ArrayBuffer(Math.max(1, n * itemSize(view.dtype))), n);
    const target: Storage = { backend: self(), dtype: view.dtype, length: n, handle: out };
    copyStrided(view, { storage: target, dtype: view.dtype, shape: view.shape, strides: contiguousStrides(view.shape), offset: 0 });
    return out;
  }
}
