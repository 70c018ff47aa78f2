import { describe, expect, expectTypeOf, it } from 'vitest';
import { defineOptions, resolveConfig, type ConfigOfGroups } from '../index.js';
import { allGroups, dataOptions, modelOptions } from './test-options.js';

describe('defineOptions', () => {
  it('infers the parsed config type from the specs (checked by tsc on this file)', () => {
    const config = resolveConfig(allGroups, { argv: ['--model_name_or_path', 'm'] });
    expectTypeOf(config.model_name_or_path).toEqualTypeOf<string>();
    expectTypeOf(config.use_lora).toEqualTypeOf<boolean>();
    expectTypeOf(config.trust_remote_code).toEqualTypeOf<boolean | undefined>();
    expectTypeOf(config.lora_r).toEqualTypeOf<number>();
    expectTypeOf(config.block_size).toEqualTypeOf<number | undefined>();
    expectTypeOf(config.lora_target_modules).toEqualTypeOf<string[]>();
    expectTypeOf(config.loss_weights).toEqualTypeOf<number[] | undefined>();
    expectTypeOf(config.eval_steps).toEqualTypeOf<number[] | undefined>();
    expectTypeOf(config.torch_dtype).toEqualTypeOf<'auto' | 'float32' | 'bfloat16' | 'float16'>();
    expectTypeOf(config.lr_scheduler_type).toEqualTypeOf<'linear' | 'cosine' | 'constant'>();
    expectTypeOf(config.dataset_path).toEqualTypeOf<string | undefined>();
    expectTypeOf<ConfigOfGroups<readonly [typeof modelOptions, typeof dataOptions]>>().toHaveProperty('conversation_template');
    // @ts-expect-error: an option no group declares is not in the type.
    void config.not_an_option;
    expect(config.lora_r).toBe(8);
  });

  it('rejects declarations a user could never type or that contradict themselves', () => {
    expect(() => defineOptions('G', { learningRate: { type: 'number', description: '' } })).toThrow(
      `option group "G": option "learningRate": names are snake_case (lowercase letters, digits and single underscores), like LMFlow's`,
    );
    expect(() => defineOptions('G', { x: { type: 'number', aliases: ['X-y'], description: '' } })).toThrow('option group "G": option "x": alias "X-y" is not snake_case');
    expect(() => defineOptions('G', { config: { type: 'path', description: '' } })).toThrow('option group "G": option "config": "config" is reserved for --config');
    expect(() => defineOptions('G', { e: { type: 'enum', values: [], description: '' } })).toThrow('option group "G": option "e": an enum needs at least one value');
    expect(() => defineOptions('G', { e: { type: 'enum', values: ['a'], default: 'b' as 'a', description: '' } })).toThrow('option group "G": option "e": default "b" is not one of a');
    expect(() => defineOptions('G', { n: { type: 'integer', default: 1, required: true, description: '' } })).toThrow('option group "G": option "n": an option with a default cannot be required');
  });

  it('rejects two groups declaring the same option or alias', () => {
    const other = defineOptions('Other', { block_size: { type: 'integer', description: '' } });
    expect(() => resolveConfig([dataOptions, other], { argv: [] })).toThrow('option "block_size" is declared twice: by "block_size" in group "Data" and by "block_size" in group "Other"');
    const aliasClash = defineOptions('Clash', { lr_max: { type: 'number', aliases: ['model_name_or_path'], description: '' } });
    expect(() => resolveConfig([modelOptions, aliasClash], { argv: [] })).toThrow('option "model_name_or_path" is declared twice');
  });
});
