/** config.json parsing per architecture, and loading that refuses configs and weights that disagree. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { tensor } from '@lmflow/tensor';
import { loadModel, loadSafetensors, parseModelConfig, saveSafetensors, supportedModelTypes } from '../index.js';
import { stories260K } from '../test-support/paths.js';

const FILE = '/models/x/config.json';
const llama = { model_type: 'llama', vocab_size: 100, hidden_size: 16, intermediate_size: 40, num_hidden_layers: 2, num_attention_heads: 4 };
const gpt2 = { model_type: 'gpt2', vocab_size: 100, n_positions: 32, n_embd: 16, n_head: 4, n_layer: 2 };

describe('parseModelConfig', () => {
  it('lists the supported model types', () => {
    expect(supportedModelTypes()).toEqual(['llama', 'mistral', 'qwen2', 'qwen3', 'gpt2']);
  });

  it('refuses an unsupported or missing model_type, listing the supported ones', () => {
    expect(() => parseModelConfig({ ...llama, model_type: 'bert' }, FILE)).toThrow(
      `config.json ${FILE}: "model_type" is "bert", which @lmflow/models does not support; supported model types: llama, mistral, qwen2, qwen3, gpt2`,
    );
    expect(() => parseModelConfig({ hidden_size: 4 }, FILE)).toThrow('"model_type" is missing, which @lmflow/models does not support');
    expect(() => parseModelConfig([1], FILE)).toThrow(`config.json ${FILE}: expected a JSON object`);
  });

  it('fills the defaults transformers uses', () => {
    const parsed = parseModelConfig(llama, FILE);
    expect(parsed).toMatchObject({ num_key_value_heads: 4, head_dim: 4, rms_norm_eps: 1e-6, rope_theta: 10000, max_position_embeddings: 2048, tie_word_embeddings: false, hidden_act: 'silu' });
    expect(parseModelConfig({ ...llama, model_type: 'qwen3' }, FILE)).toMatchObject({ head_dim: 128, max_position_embeddings: 32768 });
    expect(parseModelConfig(gpt2, FILE)).toMatchObject({ n_inner: null, activation_function: 'gelu_new', layer_norm_epsilon: 1e-5, tie_word_embeddings: true });
    // Keys the parser does not know are kept (they are written back on save).
    expect(parseModelConfig({ ...llama, bos_token_id: 1, custom: [1, 2] }, FILE)).toMatchObject({ bos_token_id: 1, custom: [1, 2] });
  });

  it('names a missing or mistyped field, the value found and what was expected', () => {
    const { hidden_size: _, ...noHidden } = llama;
    expect(() => parseModelConfig(noHidden, FILE)).toThrow(`config.json ${FILE}: "hidden_size" is missing, expected a positive integer`);
    expect(() => parseModelConfig({ ...llama, num_attention_heads: '4' }, FILE)).toThrow('"num_attention_heads" is "4" (a string), expected a positive integer');
    expect(() => parseModelConfig({ ...llama, rms_norm_eps: -1 }, FILE)).toThrow('"rms_norm_eps" is -1 (a number), expected a positive number');
    expect(() => parseModelConfig({ ...llama, tie_word_embeddings: 'yes' }, FILE)).toThrow('"tie_word_embeddings" is "yes" (a string), expected true or false');
    expect(() => parseModelConfig({ ...llama, num_key_value_heads: 3 }, FILE)).toThrow('"num_key_value_heads" is 3 (a number), expected a divisor of num_attention_heads (4)');
    expect(() => parseModelConfig({ ...llama, hidden_act: 'gelu' }, FILE)).toThrow('"hidden_act" is "gelu" (a string), expected one of "silu"');
    expect(() => parseModelConfig({ ...llama, head_dim: 5 }, FILE)).toThrow('"head_dim" is 5 (a number), expected an even number');
    expect(() => parseModelConfig({ ...llama, hidden_size: 18 }, FILE)).toThrow('since hidden_size 18 is not a multiple of num_attention_heads 4');
    expect(() => parseModelConfig({ ...llama, model_type: 'mistral', sliding_window: 0 }, FILE)).toThrow('"sliding_window" is 0 (a number), expected a positive integer or null');
    expect(() => parseModelConfig({ ...llama, model_type: 'qwen2', layer_types: ['full_attention'] }, FILE)).toThrow(
      '"layer_types" is ["full_attention"] (an array), expected an array of 2 (num_hidden_layers) entries',
    );
    expect(() => parseModelConfig({ ...gpt2, activation_function: 'tanh' }, FILE)).toThrow('"activation_function" is "tanh" (a string), expected one of "gelu_new"');
    expect(() => parseModelConfig({ ...gpt2, n_head: 5 }, FILE)).toThrow('"n_head" is 5 (a number), expected a divisor of n_embd (16)');
    expect(() => parseModelConfig({ ...gpt2, add_cross_attention: true }, FILE)).toThrow('GPT-2 with cross-attention is an encoder-decoder part');
  });

  it('accepts the default rope and refuses scaled rope types, pointing at the rope-scaling plugin', () => {
    expect(parseModelConfig({ ...llama, rope_scaling: null, rope_theta: 500000 }, FILE)).toMatchObject({ rope_theta: 500000 });
    expect(parseModelConfig({ ...llama, rope_scaling: { rope_type: 'default' } }, FILE)).toMatchObject({ rope_theta: 10000 });
    expect(parseModelConfig({ ...llama, rope_parameters: { rope_type: 'default', rope_theta: 1e6 } }, FILE)).toMatchObject({ rope_theta: 1e6 });
    const llama3 = { factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192, rope_type: 'llama3' };
    expect(() => parseModelConfig({ ...llama, rope_scaling: llama3 }, FILE)).toThrow(
      /"rope_scaling" is .* \(an object\), expected rope type "default" \(rope type "llama3" is not built in: add the rope-scaling plugin/,
    );
    expect(() => parseModelConfig({ ...llama, rope_scaling: { type: 'linear', factor: 2 } }, FILE)).toThrow('rope type "linear" is not built in');
    expect(() => parseModelConfig({ ...llama, rope_parameters: { rope_type: 'yarn', factor: 4 } }, FILE)).toThrow('rope type "yarn" is not built in');
  });
});

describe('loadModel refuses configs and weights that disagree', () => {
  let tmp: string;
  let n = 0;
  beforeAll(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'lmflow-config-'));
  });
  afterAll(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  /** A copy of stories260K with an edited config.json and optionally edited tensors. */
  async function variant(edit: (config: Record<string, unknown>) => void, editTensors?: (t: Map<string, ReturnType<typeof tensor>>) => void): Promise<string> {
    const dir = path.join(tmp, `v${n++}`);
    await mkdir(dir);
    const config = JSON.parse(await readFile(path.join(stories260K, 'config.json'), 'utf8'));
    edit(config);
    await writeFile(path.join(dir, 'config.json'), JSON.stringify(config));
    if (editTensors) {
      const { tensors } = await loadSafetensors(path.join(stories260K, 'model.safetensors'));
      editTensors(tensors);
      await saveSafetensors(path.join(dir, 'model.safetensors'), tensors);
    } else {
      await copyFile(path.join(stories260K, 'model.safetensors'), path.join(dir, 'model.safetensors'));
    }
    return dir;
  }

  it('a config.json that is not JSON, or missing', async () => {
    const dir = await variant(() => {});
    await writeFile(path.join(dir, 'config.json'), '{"model_type": "llama",');
    await expect(loadModel(dir)).rejects.toThrow(`config.json ${path.join(dir, 'config.json')}: not valid JSON`);
    await rm(path.join(dir, 'config.json'));
    await expect(loadModel(dir)).rejects.toThrow(`${path.join(dir, 'config.json')}: cannot read config.json (no such file: a model folder needs one)`);
  });

  it('a tensor whose shape the config contradicts', async () => {
    const dir = await variant((c) => {
      c.intermediate_size = 128;
    });
    await expect(loadModel(dir)).rejects.toThrow(`${dir}: tensor "model.layers.0.mlp.gate_proj.weight" has shape [172, 64], but config.json implies [128, 64]`);
  });

  it('missing and unexpected tensors', async () => {
    const untied = await variant((c) => {
      c.tie_word_embeddings = false;
    });
    await expect(loadModel(untied)).rejects.toThrow(`${untied}: the checkpoint lacks "lm_head.weight", which a llama model with this config.json needs`);
    const extra = await variant(
      () => {},
      (t) => t.set('model.layers.0.self_attn.lora_A.weight', tensor([1, 2])),
    );
    await expect(loadModel(extra)).rejects.toThrow('the checkpoint holds "model.layers.0.self_attn.lora_A.weight", which a llama model with this config.json does not have');
    const biased = await variant((c) => {
      c.attention_bias = true;
    });
    await expect(loadModel(biased)).rejects.toThrow('the checkpoint lacks "model.layers.0.self_attn.q_proj.bias", "model.layers.0.self_attn.k_proj.bias"');
  });

  it('ignores derived buffers (rotary inv_freq) and a tied lm_head.weight, as transformers does', async () => {
    const dir = await variant(
      () => {},
      (t) => {
        t.set('model.layers.0.self_attn.rotary_emb.inv_freq', tensor([1, 0.1, 0.01, 0.001]));
        t.set('lm_head.weight', t.get('model.embed_tokens.weight')!.clone());
      },
    );
    const model = await loadModel(dir);
    expect(model.namedParameters()).toHaveLength(47);
    model.dispose();
  });

  it('an unknown dtype option or torch_dtype', async () => {
    await expect(loadModel(stories260K, { dtype: 'float8' as never })).rejects.toThrow('loadModel: dtype "float8" is not one of auto, float32, bfloat16, float16');
    const dir = await variant((c) => {
      c.torch_dtype = 'int8';
    });
    await expect(loadModel(dir, { dtype: 'auto' })).rejects.toThrow('"torch_dtype" is "int8", expected "float32", "bfloat16" or "float16"');
    const model = await loadModel(stories260K, { dtype: 'auto' });
    expect(model.dtype).toBe('f32');
    model.dispose();
  });
});
