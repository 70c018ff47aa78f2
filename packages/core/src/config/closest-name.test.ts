import { describe, expect, it } from 'vitest';
import { closestName } from './closest-name.js';

describe('closestName', () => {
  const names = ['learning_rate', 'lr_scheduler_type', 'lora_r', 'lora_target_modules', 'block_size', 'model_name_or_path'];

  it('suggests the name within a third of the length in edits', () => {
    expect(closestName('lerning_rate', names)).toBe('learning_rate');
    expect(closestName('blok_sise', names)).toBe('block_size');
    expect(closestName('Model-Name-Or-Path', names)).toBe('model_name_or_path');
    expect(closestName('lora_rr', names)).toBe('lora_r');
  });

  it('falls back to an unambiguous prefix, and otherwise suggests nothing', () => {
    expect(closestName('lora_target', names)).toBe('lora_target_modules');
    expect(closestName('lo', names)).toBeUndefined();
    expect(closestName('gradient_checkpointing', names)).toBeUndefined();
    expect(closestName('', names)).toBeUndefined();
  });
});
