/**
 * `lmflow finetune` flags of QLoRA: LMFlow's `--use_qlora`, with transformers' name for the
 * same switch (`--load_in_4bit`, of BitsAndBytesConfig) as an alias. NF4 with double
 * quantization is the only 4-bit format, as QLoRA recommends, so there is nothing else to set.
 */
import { defineOptions, type PluginOption } from '@lmflow/core';
import { qlora } from './qlora-plugin.js';

export const qloraOptions = defineOptions('QLoRA', {
  use_qlora: {
    type: 'boolean',
    default: false,
    aliases: ['load_in_4bit'],
    description:
      'Store the frozen linear weights of every decoder layer in 4-bit NF4 (blocks of 64, double-quantized scales: ~4.13 bits a weight) and train LoRA adapters on top (turns --use_lora on; the --lora_* flags apply).',
  },
});

/**
 * The plugins for a run's config: QLoRA, plus LoRA itself when --use_lora is not set (QLoRA
 * trains adapters; the frozen NF4 weights cannot train). `adapters` builds the LoRA plugin
 * from a config (@lmflow/plugin-lora's loraFromConfig); it is passed in so this package does
 * not depend on the LoRA package.
 */
export function qloraFromConfig(config: Readonly<Record<string, unknown>>, adapters: (config: Readonly<Record<string, unknown>>) => PluginOption): PluginOption[] {
  if (config.use_qlora !== true) return [];
  return [qlora(), config.use_lora === true || config.use_dora === true ? false : adapters({ ...config, use_lora: true })];
}
