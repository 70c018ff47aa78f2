/**
 * @lmflow/plugin-qlora: QLoRA. The frozen base linear weights are stored in 4-bit NF4 with
 * double-quantized scales, and LoRA adapters (from @lmflow/plugin-lora) train on top.
 */
export { qlora, QLORA_PLUGIN_NAME, type QloraOptions, type QloraPlugin, type QloraSummary } from './qlora-plugin.js';
export { qloraOptions, qloraFromConfig } from './qlora-options.js';
export { createNf4Linear, NF4_PART_NAMES, type Nf4Linear } from './nf4-linear.js';
