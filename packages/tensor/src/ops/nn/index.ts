/** Fused neural-network ops: softmax, norms, rotary embedding, attention, cross-entropy, dropout. */
export { softmax, logSoftmax, type SoftmaxOptions, type LogSoftmaxOptions } from './softmax.js';
export { rmsNorm, layerNorm } from './norm.js';
export { rope, ropeInvFreq, type RotaryEmbeddingOptions, type RopeInvFreqOptions } from './rope.js';
export { scaledDotProductAttention, type ScaledDotProductAttentionOptions } from './attention.js';
export { crossEntropy, type CrossEntropyLossOptions } from './cross-entropy.js';
export { dropout, type DropoutOptions } from './dropout.js';
