export { expectClose, maxRelativeError, toleranceFor, type Tolerance } from './close.js';
export { gradCheck, type GradCheckOptions } from './gradcheck.js';
export { randomInput, copyTo, type InputOptions } from './inputs.js';
export { initTinyLlama, llamaBlock, parameterList, tinyLlamaLoss, tinyLlamaLogits, type TinyLlamaConfig, type TinyLlamaParams, type LlamaLayerParams } from './tiny-llama.js';
export { alpacaSubset, repoRoot, shared, stories260K, tempDir } from './shared-material.js';
