/**
 * The caching allocator of a CUDA device. cudaMalloc and cudaFree are slow and cudaFree waits
 * for the whole device, while a training step allocates the same sizes every step: freed
 * blocks are kept by rounded size and handed out again. With one stream per device (every
 * kernel of the backend is queued in order) a block freed on the host can be reused by the
 * next kernel at once: the stream runs the previous user's kernels first.
 *
 * A request takes a cached block of its rounded size or one up to MAX_SLACK times larger:
 * packed batches give nearly every step another token count, so with exact sizes alone every
 * step allocated all its activations anew (cudaMalloc is slow) and the cache kept every size
 * it had ever seen.
 *
 * The device side is two functions, so this bookkeeping is tested without a GPU.
 */
import { createSizeBuckets } from '../size-buckets.js';

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
  /** A block of at least `bytes`: size is roundSize(bytes), or up to MAX_SLACK times it for a reused block. */
  allocate(bytes: number): { ptr: number; size: number };
  release(ptr: number, size: number): void;
  /** Returns every cached block to the device. */
  emptyCache(): void;
  stats(): AllocatorStats;
  resetPeak(): void;
}

const MiB = 1024 * 1024;
/** How much larger than a request's rounded size a reused block may be. */
const MAX_SLACK = 1.25;

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
  const free = createSizeBuckets<number>();
  let allocatedBytes = 0;
  let cachedBytes = 0;
  let peakAllocatedBytes = 0;
  let deviceMallocs = 0;

  function emptyCache(): void {
    for (const { block, size } of free.drain()) {
      device.free(block);
      cachedBytes -= size;
    }
  }

  return {
    allocate(bytes) {
      const cached = free.take(roundSize(bytes), MAX_SLACK);
      const size = cached?.size ?? roundSize(bytes);
      let ptr: number | null | undefined = cached?.block;
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
      free.put(size, ptr);
      cachedBytes += size;
    },

    emptyCache,

    stats: () => ({ allocatedBytes, cachedBytes, peakAllocatedBytes, deviceMallocs }),

    resetPeak() {
      peakAllocatedBytes = allocatedBytes;
    },
  };
}
