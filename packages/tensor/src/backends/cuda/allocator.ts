/**
 * The caching allocator of a CUDA device. cudaMalloc and cudaFree are slow and cudaFree waits
 * for the whole device, while a training step allocates the same sizes every step: freed
 * blocks are kept by rounded size and handed out again. With one stream per device (every
 * kernel of the backend is queued in order) a block freed on the host can be reused by the
 * next kernel at once: the stream runs the previous user's kernels first.
 *
 * The device side is two functions, so this bookkeeping is tested without a GPU.
 */

export interface DeviceMemory {
  /** A device pointer, or null when the device is out of memory. */
  malloc(bytes: number): number | null;
  free(ptr: number): void;
}

export interface AllocatorStats {
  /** Bytes in blocks handed out and not yet freed (rounded sizes). */
  allocatedBytes: number;
  /** Bytes in freed blocks kept for reuse. */
  cachedBytes: number;
  /** The most allocatedBytes has been since the last resetPeak(). */
  peakAllocatedBytes: number;
  /** cudaMalloc calls so far (a steady training loop stops making them). */
  deviceMallocs: number;
}

export interface CachingAllocator {
  /** A block of at least `bytes`; its size is roundSize(bytes). */
  allocate(bytes: number): { ptr: number; size: number };
  release(ptr: number, size: number): void;
  /** Returns every cached block to the device. */
  emptyCache(): void;
  stats(): AllocatorStats;
  resetPeak(): void;
}

const MiB = 1024 * 1024;

/**
 * Sizes are rounded so that nearby requests share blocks: to 512 bytes below 1 MiB, to 2 MiB
 * below 64 MiB, and to 16 MiB above (waste under 25% in the worst case, usually far less).
 */
export function roundSize(bytes: number): number {
  const n = Math.max(1, Math.ceil(bytes));
  if (n < MiB) return Math.ceil(n / 512) * 512;
  if (n < 64 * MiB) return Math.ceil(n / (2 * MiB)) * 2 * MiB;
  return Math.ceil(n / (16 * MiB)) * 16 * MiB;
}

/**
 * @param device raw allocation on one device
 * @param describe names the device in the out-of-memory error ("cuda:0")
 * @param limitBytes cached bytes kept at most (older blocks beyond it go back to the device)
 */
export function createCachingAllocator(device: DeviceMemory, describe: string, limitBytes = Number.POSITIVE_INFINITY): CachingAllocator {
  const free = new Map<number, number[]>();
  let allocatedBytes = 0;
  let cachedBytes = 0;
  let peakAllocatedBytes = 0;
  let deviceMallocs = 0;

  function emptyCache(): void {
    for (const [size, ptrs] of free) {
      for (const ptr of ptrs) device.free(ptr);
      cachedBytes -= size * ptrs.length;
    }
    free.clear();
  }

  return {
    allocate(bytes) {
      const size = roundSize(bytes);
      const cached = free.get(size)?.pop();
      let ptr: number | null | undefined = cached;
      if (ptr !== undefined) {
        cachedBytes -= size;
      } else {
        ptr = device.malloc(size);
        if (ptr === null) {
          // Out of memory: give the cache back (blocks of other sizes) and try once more.
          emptyCache();
          ptr = device.malloc(size);
        }
        if (ptr === null) {
          throw new Error(
            `${describe}: out of memory allocating ${(size / MiB).toFixed(1)} MiB ` +
              `(${(allocatedBytes / MiB).toFixed(1)} MiB in use by tensors, cache emptied). ` +
              'Use a smaller batch or block size, gradient checkpointing, or LoRA/QLoRA.',
          );
        }
        deviceMallocs++;
      }
      allocatedBytes += size;
      peakAllocatedBytes = Math.max(peakAllocatedBytes, allocatedBytes);
      return { ptr, size };
    },

    release(ptr, size) {
      allocatedBytes -= size;
      if (cachedBytes + size > limitBytes) {
        device.free(ptr);
        return;
      }
      let bucket = free.get(size);
      if (!bucket) free.set(size, (bucket = []));
      bucket.push(ptr);
      cachedBytes += size;
    },

    emptyCache,

    stats: () => ({ allocatedBytes, cachedBytes, peakAllocatedBytes, deviceMallocs }),

    resetPeak() {
      peakAllocatedBytes = allocatedBytes;
    },
  };
}
