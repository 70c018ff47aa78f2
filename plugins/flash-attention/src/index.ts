/** @lmflow/plugin-flash-attention: FlashAttention (tiled, online softmax) as an attention module. */
export { flashAttention, createFlashAttentionModule, FLASH_ATTENTION_PLUGIN_NAME, type FlashAttentionOptions } from './flash-attention-plugin.js';
export { flashAttention as flashAttentionOp, type FlashAttentionCallOptions } from './flash-attention-op.js';
export { tiledAttentionForward, tiledAttentionBackward, type AttentionDims, type TiledOptions } from './tiled-attention.js';
