/**
 * The 16 NF4 (4-bit NormalFloat) values.
 *
 * Source: QLoRA (Dettmers et al., 2023, "QLoRA: Efficient Finetuning of Quantized LLMs",
 * appendix E), as bitsandbytes ships them (`get_4bit_type('nf4')` in bitsandbytes/functional.py).
 * They are quantiles of N(0, 1) normalised to [-1, 1], with an exact zero, chosen so that each
 * code is equally likely for normally distributed weights. The numbers below are float32
 * values (bitsandbytes stores the table as float32); native/optim/nf4-format.h holds the same
 * table, and the tests assert both that every entry is an exact float32 and that the list is
 * sorted.
 */
export const NF4_CODEBOOK: readonly number[] = Object.freeze([
  -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
  -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725,
  0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
  0.7229568362236023, 1.0,
]);

/** The code of an exact zero (a block whose absmax is 0 stores only this code). */
export const NF4_ZERO_CODE = 7;

/**
 * Decision boundaries: NF4_MIDPOINTS[i] is halfway between codes i and i + 1, in float64
 * (exact: the sum of two float32 values this close in magnitude fits a float64).
 */
export const NF4_MIDPOINTS: readonly number[] = Object.freeze(
  NF4_CODEBOOK.slice(0, -1).map((c, i) => (c + NF4_CODEBOOK[i + 1]!) / 2),
);

/**
 * The nearest codebook entry to n (n is x / absmax, in [-1, 1]): the number of midpoints
 * strictly below n. A value exactly on a midpoint therefore takes the lower code (the one
 * nearer -1); NaN takes code 0. The native quantizer counts the same comparisons in float64,
 * so both backends produce identical codes.
 */
export function nf4Code(n: number): number {
  let code = 0;
  for (let i = 0; i < NF4_MIDPOINTS.length; i++) if (n > NF4_MIDPOINTS[i]!) code++;
  return code;
}

/**
 * Half the widest gap between adjacent codebook values: the largest |n - NF4[code(n)]| for
 * n in [-1, 1], hence the per-element quantization bound relative to the block's absmax.
 */
export const NF4_MAX_HALF_GAP: number = Math.max(...NF4_CODEBOOK.slice(1).map((c, i) => (c - NF4_CODEBOOK[i]!) / 2));
