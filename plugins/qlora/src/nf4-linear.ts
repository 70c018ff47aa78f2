/**
 * A linear layer whose frozen weight is stored in NF4 (QLoRA): the (out, in) weight becomes
 * 4-bit codes in blocks of 64 with an absmax per block, the absmax values themselves
 * quantized to 8 bits in groups of 256 (double quantization), about 4.13 bits a weight
 * instead of 32. The forward multiplies straight from the codes (@lmflow/tensor's nf4Linear),
 * and backward gives the input its gradient through the same codes: the weight has none.
 */
import { dequantizeNf4, isFloat, nf4Linear, noGrad, quantizeNf4, type Nf4Tensor, type Tensor } from '@lmflow/tensor';
import type { LinearModule } from '@lmflow/core';

/** Parameter names (relative to the module) of the NF4 parts, as namedParameters lists them. */
export const NF4_PART_NAMES = {
  codes: 'weight.nf4_codes',
  absmaxCodes: 'weight.nf4_absmax_codes',
  absmaxScales: 'weight.nf4_absmax_scales',
} as const;

export interface Nf4Linear extends LinearModule {
  /** The quantized weight (N = outFeatures, K = inFeatures). */
  readonly nf4: Nf4Tensor;
  readonly bias: Tensor | null;
  /** The weight back in full precision, (out, in), in the dtype it was quantized from. The caller disposes it. */
  dequantizeWeight(): Tensor;
}

/**
 * Quantizes `base`'s dense (out, in) weight to NF4 and frees the full-precision tensor; the
 * bias stays as it is. `base` must be a plain linear layer (weight and optional bias): a
 * module another plugin already wrapped cannot be quantized underneath that plugin.
 */
export function createNf4Linear(base: LinearModule): Nf4Linear {
  const { name, inFeatures, outFeatures } = base;
  const params = new Map(base.parameters());
  const weight = params.get('weight');
  const extra = [...params.keys()].filter((n) => n !== 'weight' && n !== 'bias');
  if (!weight || extra.length > 0) {
    throw new Error(
      `${name}: expected a plain linear layer with "weight" (and optionally "bias") to quantize, found parameters ${JSON.stringify([...params.keys()])}; ` +
        'qlora must wrap linear layers before other plugins do (it taps at STAGE_EARLY)',
    );
  }
  if (weight.ndim !== 2 || weight.shape[0] !== outFeatures || weight.shape[1] !== inFeatures || !isFloat(weight.dtype)) {
    throw new Error(`${name}: expected a floating-point weight of shape [${outFeatures}, ${inFeatures}] (out, in), got ${weight.describe()}`);
  }
  if (weight.size % 64 !== 0) {
    throw new Error(`${name}: its weight ${weight.describe()} has ${weight.size} elements, and NF4 stores whole blocks of 64; leave this module out of qlora's targets`);
  }
  const bias = params.get('bias') ?? null;
  const nf4 = quantizeAndFree(weight);
  params.clear();
  return {
    kind: 'linear',
    name,
    inFeatures,
    outFeatures,
    nf4,
    bias,
    *parameters() {
      // The parts are listed so the model disposes them with its parameters; they are u8/f32
      // storage, never trainable (the recipe trains floating-point tensors LoRA selects).
      yield [NF4_PART_NAMES.codes, nf4.codes];
      yield [NF4_PART_NAMES.absmaxCodes, nf4.absmaxCodes];
      yield [NF4_PART_NAMES.absmaxScales, nf4.absmaxScales];
      if (bias) yield ['bias', bias];
    },
    // x: (..., in) -> (..., out)
    forward: (x) => nf4Linear(x, nf4, bias),
    dequantizeWeight: () => noGrad(() => dequantizeNf4(nf4)),
  };
}

/**
 * The weight in NF4, its full-precision tensor disposed: that memory is what QLoRA saves, and
 * nothing else holds the tensor (the architecture gave it to this module alone). A function of
 * its own so that no closure of the module captures the f32 tensor, which would keep its
 * buffer from the garbage collector for the model's lifetime.
 */
function quantizeAndFree(weight: Tensor): Nf4Tensor {
  const nf4 = noGrad(() => quantizeNf4(weight));
  weight.dispose();
  return nf4;
}
