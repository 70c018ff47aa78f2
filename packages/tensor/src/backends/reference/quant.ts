/**
 * Reference NF4 kernels: float64 loops over dense copies (strided.ts). Quantization follows
 * the steps of src/quant (nearest code by float64 comparison with the midpoints, then the
 * double quantization of the absmax values), which the native backend repeats bit for bit.
 */
import type { Nf4Weight, QuantOps, View } from '../../backend.js';
import { numel } from '../../shape.js';
import { NF4_CODEBOOK, NF4_ZERO_CODE, nf4Code } from '../../quant/nf4-codebook.js';
import { NF4_BLOCK_SIZE, dequantizeAbsmax, quantizeAbsmax } from '../../quant/nf4-format.js';
import { read, write } from './strided.js';

/** The weight as float64 values, row-major over its L elements. */
function dequantizeAll(weight: Nf4Weight, length: number): Float64Array {
  const codes = read(weight.codes);
  const absmaxCodes = read(weight.absmaxCodes);
  const scales = read(weight.absmaxScales);
  const out = new Float64Array(length);
  for (let b = 0; b < length / NF4_BLOCK_SIZE; b++) {
    const absmax = dequantizeAbsmax(weight.absmaxOffset, absmaxCodes, scales, b);
    for (let e = b * NF4_BLOCK_SIZE; e < (b + 1) * NF4_BLOCK_SIZE; e++) {
      const byte = codes[e >> 1]!;
      // Element 2i sits in the high nibble of byte i, 2i + 1 in the low one.
      const code = e & 1 ? byte & 15 : byte >> 4;
      out[e] = NF4_CODEBOOK[code]! * absmax;
    }
  }
  return out;
}

// (rows, cols) of a contiguous operand: the last dim and the product of the others.
function matrix(view: View): [number, number] {
  const cols = view.shape[view.shape.length - 1] ?? 1;
  return [cols === 0 ? 0 : numel(view.shape) / cols, cols];
}

export const referenceQuant: QuantOps = {
  nf4Quantize(w, into) {
    const x = read(w);
    const blocks = x.length / NF4_BLOCK_SIZE;
    const absmax = new Float64Array(blocks);
    const codes = new Uint8Array(x.length / 2);
    for (let b = 0; b < blocks; b++) {
      let a = 0;
      for (let e = b * NF4_BLOCK_SIZE; e < (b + 1) * NF4_BLOCK_SIZE; e++) a = Math.max(a, Math.abs(x[e]!));
      absmax[b] = a;
      for (let e = b * NF4_BLOCK_SIZE; e < (b + 1) * NF4_BLOCK_SIZE; e++) {
        const code = a > 0 ? nf4Code(x[e]! / a) : NF4_ZERO_CODE;
        codes[e >> 1] |= e & 1 ? code : code << 4;
      }
    }
    const dq = quantizeAbsmax(absmax);
    write(into.codes, codes);
    write(into.absmaxCodes, dq.codes);
    write(into.absmaxScales, dq.scales);
    return dq.offset;
  },

  nf4Dequantize(weight, out) {
    write(out, dequantizeAll(weight, numel(out.shape)));
  },

  nf4Matmul(x, weight, out, { alpha, beta, transposeW }) {
    // transposeW: x (M, K) @ W^T -> out (M, N); else x (M, N) @ W -> out (M, K). W is (N, K).
    const [M, inner] = matrix(x);
    const cols = matrix(out)[1];
    const [N, K] = transposeW ? [cols, inner] : [inner, cols];
    const w = dequantizeAll(weight, N * K);
    const a = read(x);
    const previous = beta === 0 ? null : read(out);
    const result = new Float64Array(M * cols);
    for (let m = 0; m < M; m++) {
      for (let j = 0; j < cols; j++) {
        let sum = 0;
        for (let i = 0; i < inner; i++) {
          sum += a[m * inner + i]! * (transposeW ? w[j * K + i]! : w[i * K + j]!);
        }
        const index = m * cols + j;
        result[index] = alpha * sum + (previous ? beta * previous[index]! : 0);
      }
    }
    write(out, result);
  },
};
