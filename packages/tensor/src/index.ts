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
export { Generator, defaultGenerator, manualSeed, type GeneratorState } from './random.js';

export { noGrad, enableGrad, isGradEnabled } from './autograd/grad-mode.js';
export { backward, type BackwardOptions } from './autograd/backward.js';
export { checkpoint } from './autograd/checkpoint.js';
export { record, needsRecording, type BackwardFn, type GradNode } from './autograd/node.js';

export { tidy, keep } from './memory/scope.js';
export { liveTensorCount, enableLeakReporter, disableLeakReporter, type LeakReport } from './memory/stats.js';

export { tensor, empty, zeros, ones, full, zerosLike, onesLike, fullLike, arange, rand, randn, bernoulli, type CreateOptions, type RandomOptions } from './ops/creation.js';
export { reshape, permute, transpose, slice, narrow, select, expand, squeeze, unsqueeze, flatten, contiguous, clone, cast, to } from './ops/views.js';

// Areas in progress; each lists its exports explicitly once it lands.
export * from './ops/elementwise.js';
export * from './ops/reduce.js';
export * from './ops/index-ops.js';
export * from './ops/concat.js';
export * from './ops/matmul.js';
export * from './ops/nn/index.js';
export * from './ops/optim.js';
export * from './ops/nf4.js';
