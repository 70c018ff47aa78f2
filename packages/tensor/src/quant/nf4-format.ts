/**
 * The NF4 storage layout of backend.ts (Nf4Weight), as plain functions on host arrays: part
 * sizes, and the double quantization of the per-block absmax values. The reference backend
 * quantizes with these; native/optim/nf4-quantize.cc repeats the same float64 steps in the same
 * order, so both produce bit-identical parts.
 */

/** Elements per absmax block. */
export const NF4_BLOCK_SIZE = 64;
/** Absmax values per 8-bit scale group of the double quantization. */
export const NF4_ABSMAX_GROUP = 256;

export interface Nf4PartLengths {
  /** u8: two 4-bit codes per byte. */
  codes: number;
  /** u8: one 8-bit code per block of 64. */
  absmaxCodes: number;
  /** f32: one scale per group of 256 blocks. */
  absmaxScales: number;
}

/** Part lengths for a weight of `length` elements (a positive multiple of 64). */
export function nf4PartLengths(length: number): Nf4PartLengths {
  const blocks = length / NF4_BLOCK_SIZE;
  return { codes: length / 2, absmaxCodes: blocks, absmaxScales: Math.ceil(blocks / NF4_ABSMAX_GROUP) };
}

export interface QuantizedAbsmax {
  /** Mean of the absmax values, rounded to float32 (what a file stores). */
  offset: number;
  codes: Uint8Array;
  /** Per group: the largest |absmax - offset|, rounded to float32. */
  scales: Float32Array;
}

/**
 * Symmetric 8-bit quantization of absmax values around their mean:
 * code = clamp(round((a - offset) * 127 / scale), -127, 127) + 127, rounding halves up.
 * A group whose values all equal the offset (scale 0) stores code 127.
 * The operation order (sequential float64 sum, multiply before divide) is part of the format:
 * the native quantizer repeats it exactly.
 */
export function quantizeAbsmax(absmax: ArrayLike<number>): QuantizedAbsmax {
  const n = absmax.length;
  let sum = 0;
  for (let j = 0; j < n; j++) sum += absmax[j]!;
  const offset = n > 0 ? Math.fround(sum / n) : 0;
  const groups = Math.ceil(n / NF4_ABSMAX_GROUP);
  const codes = new Uint8Array(n);
  const scales = new Float32Array(groups);
  for (let g = 0; g < groups; g++) {
    const start = g * NF4_ABSMAX_GROUP;
    const end = Math.min(n, start + NF4_ABSMAX_GROUP);
    let widest = 0;
    for (let j = start; j < end; j++) widest = Math.max(widest, Math.abs(absmax[j]! - offset));
    const scale = Math.fround(widest);
    scales[g] = scale;
    for (let j = start; j < end; j++) {
      if (scale === 0) {
        codes[j] = 127;
        continue;
      }
      const t = ((absmax[j]! - offset) * 127) / scale;
      codes[j] = Math.min(127, Math.max(-127, Math.floor(t + 0.5))) + 127;
    }
  }
  return { offset, codes, scales };
}

/** absmax of block j as backend.ts defines it: offset + scale[j / 256] * (code[j] - 127) / 127. */
export function dequantizeAbsmax(offset: number, codes: ArrayLike<number>, scales: ArrayLike<number>, block: number): number {
  return offset + (scales[Math.floor(block / NF4_ABSMAX_GROUP)]! * (codes[block]! - 127)) / 127;
}
