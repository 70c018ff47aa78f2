import { describe, expect, it } from 'vitest';
import { zeros } from '@lmflow/tensor';
import { isNoDecayParameter, weightDecayGroups } from './weight-decay-groups.js';

describe('weight decay groups', () => {
  it('decays weight matrices and embeddings, not biases and norms (Llama, Qwen3, GPT-2 names)', () => {
    const noDecay = [
      'model.layers.0.input_layernorm.weight',
      'model.layers.0.post_attention_layernorm.weight',
      'model.layers.3.self_attn.q_norm.weight',
      'model.norm.weight',
      'model.layers.0.self_attn.q_proj.bias',
      'transformer.h.0.ln_1.weight',
      'transformer.h.0.ln_1.bias',
      'transformer.ln_f.weight',
      'transformer.h.0.attn.c_attn.bias',
    ];
    const decay = ['model.embed_tokens.weight', 'model.layers.0.self_attn.q_proj.weight', 'model.layers.0.mlp.down_proj.weight', 'lm_head.weight', 'transformer.wpe.weight', 'transformer.h.0.mlp.c_fc.weight', 'model.layers.0.mlp.up_proj.lora_A.weight'];
    for (const n of noDecay) expect(isNoDecayParameter(n), n).toBe(true);
    for (const n of decay) expect(isNoDecayParameter(n), n).toBe(false);
    const t = zeros([1], { device: 'cpu' });
    const groups = weightDecayGroups([...decay, ...noDecay].map((n) => [n, t] as const), 0.1);
    expect(groups.map((g) => [g.params.map(([n]) => n), g.options])).toEqual([
      [decay, { weightDecay: 0.1 }],
      [noDecay, { weightDecay: 0 }],
    ]);
    expect(weightDecayGroups([['model.norm.weight', t]], 0.1)).toEqual([{ params: [['model.norm.weight', t]], options: { weightDecay: 0 } }]);
    expect(() => weightDecayGroups([], -1)).toThrow('weight_decay is -1, expected a finite number >= 0');
  });
});
