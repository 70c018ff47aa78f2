/**
 * The plugin swaps every layer's attention through model.hooks.wrapModule.for('attention'):
 * stories260K (a real Llama, ../shared/models/stories260K) gives the same logits with it as
 * with the built-in fused attention, and the same gradients through a training loss.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createRuntime } from '@lmflow/core';
import { loadModel } from '@lmflow/models';
import { expectClose } from '@lmflow/test-utils';
import { backward, crossEntropy, tensor, tidy } from '@lmflow/tensor';
import { createFlashAttentionModule, flashAttention } from './index.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const stories260K = path.resolve(repoRoot, '../shared/models/stories260K');

describe('flash-attention plugin', () => {
  it('replaces the attention module of every layer of stories260K; logits and gradients are unchanged', async () => {
    const runtime = createRuntime({ plugins: [flashAttention({ tileSize: 7 })] });
    const wrapped: string[] = [];
    runtime.model.hooks.wrapModule.for('attention').tap('spy', (module) => {
      wrapped.push(module.name);
      return module;
    });
    const plain = await loadModel(stories260K, { device: 'cpu' });
    const flash = await loadModel(stories260K, { device: 'cpu', runtime });
    expect(wrapped.length).toBe(Number(plain.config.num_hidden_layers));
    const ids = [1, 403, 407, 261, 378, 284, 260, 500, 290, 377, 263, 292, 348, 269, 17];
    tidy(() => {
      const input = tensor([ids], { device: 'cpu', dtype: 'i32' });
      const a = plain.forward(input);
      const b = flash.forward(input);
      expectClose(b, a, { atol: 2e-5, rtol: 2e-4 }, 'logits');
      // Gradients of a next-token loss through every layer's attention.
      const targets = tensor([...ids.slice(1), -100], { device: 'cpu', dtype: 'i32' });
      const lossOf = (m: typeof plain) => crossEntropy(m.forward(input).reshape([ids.length, -1]), targets);
      const grads = (m: typeof plain) => {
        const params = [...m.namedParameters()].filter(([n]) => n.includes('layers.0.self_attn.q_proj'));
        for (const [, p] of params) p.requiresGrad_();
        backward(lossOf(m));
        const g = params.map(([, p]) => p.grad!.detach());
        for (const [, p] of params) p.grad = null;
        return g;
      };
      const ga = grads(plain);
      const gb = grads(flash);
      expect(ga.length).toBe(1);
      expectClose(gb[0]!, ga[0]!, { atol: 1e-5, rtol: 1e-3 }, 'q_proj gradient');
    });
    plain.dispose?.();
    flash.dispose?.();
  });

  it('validates its options with errors naming the plugin', () => {
    expect(() => flashAttention({ tileSize: 0 })).toThrow(/plugin "flash-attention": tileSize must be an integer in \[1, 4096\], got 0/);
    expect(() => flashAttention({ tile: 3 } as never)).toThrow(/plugin "flash-attention": unknown option "tile"; expected tileSize/);
    expect(createFlashAttentionModule('model.layers.0.self_attn').kind).toBe('attention');
  });
});
