/**
 * PEFT's adapter format: the config this plugin writes has LoraConfig's fields and values, a
 * config as PEFT 0.13 writes it (with fields this plugin does not use) is read, tensor names
 * map both ways, and the target-module rules match PEFT's.
 */
import { describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { adapterConfigJson, parsePeftTensorName, peftTensorName, readAdapterConfig } from './peft-format.js';
import { isTargeted, resolveTargetModules } from './target-modules.js';
import { tempDir } from './test-support/fixtures.js';

/** adapter_config.json of a Llama LoRA adapter saved by PEFT 0.13.2 (LoraConfig.to_dict()). */
const PEFT_0_13_CONFIG = {
  alpha_pattern: {},
  auto_mapping: null,
  base_model_name_or_path: 'meta-llama/Llama-2-7b-hf',
  bias: 'none',
  fan_in_fan_out: false,
  inference_mode: true,
  init_lora_weights: true,
  layer_replication: null,
  layers_pattern: null,
  layers_to_transform: null,
  loftq_config: {},
  lora_alpha: 16,
  lora_dropout: 0.05,
  megatron_config: null,
  megatron_core: 'megatron.core',
  modules_to_save: null,
  peft_type: 'LORA',
  r: 8,
  rank_pattern: {},
  revision: null,
  target_modules: ['v_proj', 'q_proj'],
  task_type: 'CAUSAL_LM',
  use_dora: false,
  use_rslora: false,
};

describe('adapter_config.json', () => {
  it('is written with the fields and values PEFT writes for a causal-LM LoRA', () => {
    const json = adapterConfigJson({ r: 8, alpha: 32, dropout: 0.1, targetModules: ['q_proj', 'k_proj'], useDora: true, useRslora: false, baseModelNameOrPath: 'models/base', fanInFanOut: false });
    expect(json).toEqual({
      peft_type: 'LORA', task_type: 'CAUSAL_LM', base_model_name_or_path: 'models/base', revision: null, inference_mode: true,
      r: 8, lora_alpha: 32, lora_dropout: 0.1, target_modules: ['q_proj', 'k_proj'], bias: 'none', fan_in_fan_out: false,
      modules_to_save: null, init_lora_weights: true, layers_to_transform: null, layers_pattern: null, rank_pattern: {}, alpha_pattern: {},
      use_rslora: false, use_dora: true,
    });
    // Every key is one PEFT 0.13's LoraConfig has.
    for (const key of Object.keys(json)) expect(Object.keys(PEFT_0_13_CONFIG), key).toContain(key);
  });

  it("reads PEFT's own config, and ours back", () => {
    const dir = tempDir('config');
    writeFileSync(path.join(dir, 'adapter_config.json'), JSON.stringify(PEFT_0_13_CONFIG));
    expect(readAdapterConfig(dir)).toEqual({
      file: path.join(dir, 'adapter_config.json'), r: 8, alpha: 16, dropout: 0.05, targetModules: ['v_proj', 'q_proj'],
      useDora: false, useRslora: false, baseModelNameOrPath: 'meta-llama/Llama-2-7b-hf', fanInFanOut: false,
    });
    const ours = path.join(dir, 'ours');
    mkdirSync(ours);
    const fields = { r: 4, alpha: 8, dropout: 0, targetModules: '.*\\.(q|v)_proj', useDora: true, useRslora: true, baseModelNameOrPath: null, fanInFanOut: true };
    writeFileSync(path.join(ours, 'adapter_config.json'), JSON.stringify(adapterConfigJson(fields)));
    expect(readAdapterConfig(ours)).toEqual({ file: path.join(ours, 'adapter_config.json'), ...fields });
  });

  it('names a bad field with its value', () => {
    const dir = tempDir('bad-config');
    for (const [edit, message] of [
      [{ r: 0 }, '"r" is 0, expected a positive integer (the rank)'],
      [{ lora_alpha: 'x' }, '"lora_alpha" is "x", expected a positive number'],
      [{ target_modules: [1] }, '"target_modules" is [1], expected a list of module names or a regular expression'],
      [{ task_type: 'SEQ_CLS' }, '"task_type" is "SEQ_CLS", expected "CAUSAL_LM"'],
      [{ modules_to_save: ['lm_head'] }, '"modules_to_save" is ["lm_head"], expected null'],
      [{ layers_to_transform: [0, 1] }, '"layers_to_transform" is [0,1], expected null'],
    ] as const) {
      writeFileSync(path.join(dir, 'adapter_config.json'), JSON.stringify({ ...PEFT_0_13_CONFIG, ...edit }));
      expect(() => readAdapterConfig(dir)).toThrow(`${path.join(dir, 'adapter_config.json')}: ${message}`);
    }
    writeFileSync(path.join(dir, 'adapter_config.json'), '{"r": 8,');
    expect(() => readAdapterConfig(dir)).toThrow(/adapter_config.json: not valid JSON/);
  });
});

describe('tensor names', () => {
  it("are PEFT's base_model.model.<module path>.lora_A.weight / lora_B.weight / lora_magnitude_vector", () => {
    expect(peftTensorName('model.layers.3.mlp.down_proj', 'loraA')).toBe('base_model.model.model.layers.3.mlp.down_proj.lora_A.weight');
    expect(peftTensorName('transformer.h.0.attn.c_attn', 'loraB')).toBe('base_model.model.transformer.h.0.attn.c_attn.lora_B.weight');
    expect(peftTensorName('model.layers.0.self_attn.q_proj', 'magnitude')).toBe('base_model.model.model.layers.0.self_attn.q_proj.lora_magnitude_vector');
    expect(parsePeftTensorName('base_model.model.model.layers.0.self_attn.q_proj.lora_magnitude_vector.weight')).toEqual({ module: 'model.layers.0.self_attn.q_proj', part: 'magnitude' });
    expect(parsePeftTensorName('base_model.model.lm_head.lora_B.weight')).toEqual({ module: 'lm_head', part: 'loraB' });
    expect(parsePeftTensorName('model.layers.0.self_attn.q_proj.lora_A.weight')).toBeNull();
    expect(parsePeftTensorName('base_model.model.model.embed_tokens.lora_embedding_A')).toBeNull();
  });
});

describe('target modules (PEFT matching)', () => {
  it('a list matches whole names or dotted suffixes; a string is a whole-path regular expression; all-linear skips lm_head', () => {
    expect(isTargeted('model.layers.0.self_attn.q_proj', ['q_proj'])).toBe(true);
    expect(isTargeted('model.layers.0.self_attn.qq_proj', ['q_proj'])).toBe(false);
    expect(isTargeted('transformer.h.1.attn.c_proj', ['attn.c_proj'])).toBe(true);
    expect(isTargeted('transformer.h.1.mlp.c_proj', ['attn.c_proj'])).toBe(false);
    expect(isTargeted('model.layers.0.self_attn.v_proj', '.*\\.(q|v)_proj')).toBe(true);
    expect(isTargeted('model.layers.0.self_attn.k_proj', '.*\\.(q|v)_proj')).toBe(false);
    expect(isTargeted('model.layers.0.self_attn.q_proj', 'q_proj')).toBe(false); // a regex must match the whole path
    expect(isTargeted('model.layers.0.mlp.up_proj', 'all-linear')).toBe(true);
    expect(isTargeted('lm_head', ['all-linear'])).toBe(false);
  });

  it('defaults to the attention projections, and asks for targets where there is no default', () => {
    expect(resolveTargetModules(undefined, 'qwen2')).toEqual(['q_proj', 'k_proj', 'v_proj', 'o_proj']);
    expect(resolveTargetModules(undefined, 'gpt2')).toEqual(['c_attn', 'attn.c_proj']);
    expect(resolveTargetModules(['up_proj'], 'llama')).toEqual(['up_proj']);
    expect(() => resolveTargetModules(undefined, 'falcon')).toThrow('no default LoRA target modules for model_type "falcon"');
  });
});
