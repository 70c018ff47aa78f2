/**
 * @lmflow/plugin-flash-attention: replaces every layer's attention module with the
 * FlashAttention algorithm through model.hooks.wrapModule.for('attention').
 *
 *   createRuntime({ plugins: [flashAttention()] })
 */
import type { AttentionModule, Plugin } from '@lmflow/core';
import { flashAttention as flashAttentionOp } from './flash-attention-op.js';

export const FLASH_ATTENTION_PLUGIN_NAME = 'flash-attention';

export interface FlashAttentionOptions {
  /**
   * Rows per query tile and per key tile of the host (cpu/reference) implementation: memory
   * beyond inputs and outputs is about tile^2 + tile * headDim numbers per head. The cuda
   * kernels choose their own tiles.
   * @default 64
   */
  tileSize?: number;
}

function resolve(options: FlashAttentionOptions): Required<FlashAttentionOptions> {
  const known = new Set(['tileSize']);
  for (const key of Object.keys(options)) {
    if (!known.has(key)) throw new Error(`plugin "${FLASH_ATTENTION_PLUGIN_NAME}": unknown option "${key}"; expected tileSize`);
  }
  const tileSize = options.tileSize ?? 64;
  if (!Number.isInteger(tileSize) || tileSize < 1 || tileSize > 4096) {
    throw new Error(`plugin "${FLASH_ATTENTION_PLUGIN_NAME}": tileSize must be an integer in [1, 4096], got ${String(tileSize)}`);
  }
  return { tileSize };
}

/** An attention module computing with the FlashAttention algorithm. */
export function createFlashAttentionModule(name: string, options: FlashAttentionOptions = {}): AttentionModule {
  const { tileSize } = resolve(options);
  return {
    kind: 'attention',
    name,
    *parameters() {},
    // q: (B, T, Hq, D); k, v: (B, S, Hkv, D) -> (B, T, Hq, D)
    forward: ({ q, k, v, causal, scale, qSegments, kSegments }) => flashAttentionOp(q, k, v, { causal, scale, tile: tileSize, qSegments, kSegments }),
  };
}

export function flashAttention(options: FlashAttentionOptions = {}): Plugin {
  const resolved = resolve(options);
  return {
    name: FLASH_ATTENTION_PLUGIN_NAME,
    apply(runtime) {
      runtime.model.hooks.wrapModule.for('attention').tap(FLASH_ATTENTION_PLUGIN_NAME, (module) => createFlashAttentionModule(module.name, resolved));
    },
  };
}
