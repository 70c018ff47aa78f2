/**
 * DoRA (weight-decomposed LoRA, Liu et al. 2024) as PEFT computes it: the adapted weight
 * W + scale * B @ A is split into a direction, normalised per output row, and a learned
 * magnitude m (PEFT's `lora_magnitude_vector`, one value per output feature):
 *
 *   W' = (m / ||W + scale * B @ A||_row) * (W + scale * B @ A)
 *
 * The row norm is treated as a constant in backward (DoRA paper section 4.3; PEFT detaches
 * it): gradients reach A and B through the direction only, and no (out, in) activation of
 * the norm is kept for backward.
 */
import { add, div, matmul, mul, noGrad, sqrt, square, sub, sum, type Tensor } from '@lmflow/tensor';

/**
 * ||W + scale * B @ A|| over each output row, computed without autograd.
 * W: (out, in), A: (r, in), B: (out, r) -> (out)
 */
export function doraWeightNorm(weight: Tensor, loraA: Tensor, loraB: Tensor, scale: number): Tensor {
  return noGrad(() => sqrt(sum(square(add(weight, mul(matmul(loraB, loraA), scale))), 1)));
}

/**
 * The DoRA output from the pieces a LoRA linear already has, without forming W':
 *   y = base + (m / norm - 1) * wx + (m / norm) * scale * lora
 * base = W x + bias (on the undropped x), wx = W x' (no bias), lora = B A x' (x' the dropped-out
 * input; x' = x without dropout, and then y = (m / norm) * (W x + scale * B A x) + bias).
 * base, wx, lora: (..., out); magnitude, norm: (out)
 */
export function doraOutput(base: Tensor, wx: Tensor, lora: Tensor, magnitude: Tensor, norm: Tensor, scale: number): Tensor {
  const factor = div(magnitude, norm);
  return add(add(base, mul(wx, sub(factor, 1))), mul(lora, mul(factor, scale)));
}
