/**
 * @lmflow/tensor: tensors, autograd, and the compute backends every LMFlow.ts package uses.
 */
// Ops install their Tensor methods when these modules load.
import './autograd/backward.js';
import './ops/views.js';

export { Tensor } from './tensor.js';
export type { Backend, Storage, View, UnaryOp, BinaryOp, CompareOp, ScalarOp, ReduceOp, MatmulOptions, AttentionOptions, RopeOptions, CrossEntropyOptions, AdamWOptions, Nf4Weight } from './backend.js';
export { DTYPES, isDType, isFloat, itemSize, bf16ToF32, f32ToBf16, f16ToF32, f32ToF16, type DType, type HostArray } from './dtype.js';
export { numel, contiguousStrides, broadcastShapes, formatShape, type Shape } from './shape.js';
export { getBackend, registerBackend, defaultDevice, setDefaultDevice, normalizeDevice, type BackendFactory } from './device.js';
export { cpuNumThreads, setCpuNumThreads, cpuSimdLevel, setCpuSimdLevel } from './backends/cpu/index.js';
export { isNativeAddonAvailable } from './backends/cpu/native.js';
export { emptyHostCache, hostMemoryStats } from './backends/host-memory.js';
export { cudaDeviceCount, isCudaAvailable, cudaStatus, cudaLibraryPath, type CudaDeviceInfo } from './backends/cuda/addon.js';
export { cudaMemoryStats, emptyCudaCache, setCudaTf32 } from './backends/cuda/index.js';
export type { AllocatorStats as CudaMemoryStats } from './backends/cuda/allocator.js';
export { Generator, defaultGenerator, manualSeed, type GeneratorState } from './random.js';

export { noGrad, enableGrad, isGradEnabled } from './autograd/grad-mode.js';
export { backward, type BackwardOptions } from './autograd/backward.js';
export { checkpoint, isCheckpointing } from './autograd/checkpoint.js';
export { record, needsRecording, type BackwardFn, type GradNode } from './autograd/node.js';

export { tidy, keep } from './memory/scope.js';
export { liveTensorCount, enableLeakReporter, disableLeakReporter, type LeakReport } from './memory/stats.js';

export { tensor, fromHostArray, empty, zeros, ones, full, zerosLike, onesLike, fullLike, arange, rand, randn, bernoulli, type CreateOptions, type RandomOptions } from './ops/creation.js';
export { reshape, permute, transpose, slice, narrow, select, expand, squeeze, unsqueeze, flatten, contiguous, clone, cast, to } from './ops/views.js';

export type { TensorOrNumber } from './ops/util.js';
export { add, sub, mul, div, pow, maximum, minimum, neg, abs, exp, log, sqrt, rsqrt, square, reciprocal, sin, cos, tanh, sigmoid, relu, silu, gelu, geluTanh, eq, ne, lt, le, gt, ge, where, clamp } from './ops/elementwise.js';
export { add_, sub_, mul_, div_, copy_, fill_, zero_ } from './ops/in-place.js';
export { sum, mean, max, min, argmax, logsumexp, type Axes } from './ops/reduce.js';
export { indexSelect, embedding, gather, scatterAdd, indexAdd } from './ops/index-ops.js';
export { cat, stack, split, chunk } from './ops/concat.js';
export { matmul, linear, linearGroup } from './ops/matmul.js';
export { softmax, logSoftmax, rmsNorm, layerNorm, rope, ropeInvFreq, scaledDotProductAttention, crossEntropy, dropout } from './ops/nn/index.js';
export type { SoftmaxOptions, LogSoftmaxOptions, RotaryEmbeddingOptions, RopeInvFreqOptions, ScaledDotProductAttentionOptions, CrossEntropyLossOptions, DropoutOptions } from './ops/nn/index.js';
export { adamwUpdate, type AdamWUpdateOptions } from './ops/optim.js';
export { quantizeNf4, dequantizeNf4, nf4Linear, nf4BitsPerWeight, nf4TensorFromParts, type Nf4Tensor, type Nf4TensorParts } from './ops/nf4.js';
export { NF4_CODEBOOK } from './quant/nf4-codebook.js';
