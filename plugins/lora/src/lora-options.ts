/**
 * The LoRA flags of `lmflow finetune` (LMFlow's names and defaults) and of the inference
 * commands (`--lora_model_path` alone), and the plugin they describe.
 */
import { defineOptions, type PathOptionSpec, type PluginOption } from '@lmflow/core';
import { lora, type LoraOptions } from './lora-plugin.js';

const loraModelPath: PathOptionSpec = {
  type: 'path',
  mustExist: 'directory',
  description:
    'A LoRA adapter folder (adapter_config.json + adapter_model.safetensors, as PEFT or lmflow finetune --use_lora writes it) to apply to --model_name_or_path. Its adapter_config.json sets the rank, alpha, target modules and DoRA.',
};

export const loraOptions = defineOptions('LoRA', {
  use_lora: {
    type: 'boolean',
    default: false,
    description: 'Train LoRA adapters instead of all weights: the base model is frozen and the output folder is a PEFT adapter (adapter_config.json + adapter_model.safetensors).',
  },
  lora_r: { type: 'integer', min: 1, default: 8, description: 'Rank of the LoRA update B @ A.' },
  lora_alpha: { type: 'number', exclusiveMin: 0, default: 32, description: 'LoRA scaling: the update is multiplied by lora_alpha / lora_r.' },
  lora_dropout: { type: 'number', min: 0, exclusiveMax: 1, default: 0.1, description: "Dropout on the adapters' input while training." },
  lora_target_modules: {
    type: 'list',
    items: 'string',
    description:
      'Linear modules to adapt, by name as in PEFT (q_proj matches every *.q_proj), or all-linear (every linear layer but lm_head). Default: the attention projections, q_proj k_proj v_proj o_proj for the Llama family (llama, mistral, qwen2, qwen3) and c_attn attn.c_proj for gpt2.',
  },
  use_dora: { type: 'boolean', default: false, description: 'Weight-decomposed LoRA (DoRA): also learn a magnitude per output feature. Implies --use_lora.' },
  lora_model_path: {
    ...loraModelPath,
    description: `${loraModelPath.description} With --use_lora (implied), training continues from it; --lora_r, --lora_alpha and --use_dora are then ignored in favour of the adapter's.`,
  },
});

/** --lora_model_path for generate, chat and serve. */
export const loraAdapterOptions = defineOptions('LoRA adapter', { lora_model_path: loraModelPath });

/**
 * The plugin a command's flags ask for, or false: --use_lora, --use_dora or --lora_model_path
 * switch it on. Reads only the LoRA flags, so any command's config may be passed.
 */
export function loraFromConfig(config: Readonly<Record<string, unknown>>): PluginOption {
  const adapterPath = config.lora_model_path as string | undefined;
  if (!config.use_lora && !config.use_dora && adapterPath === undefined) return false;
  const targets = config.lora_target_modules as string[] | undefined;
  const options: LoraOptions = adapterPath !== undefined
    ? {
        adapterPath,
        // A flag's default must not contradict the adapter; only what the user set explicitly can.
        ...(targets !== undefined && { targetModules: targets }),
        ...(config.use_dora === true && { useDora: true }),
        ...(typeof config.lora_dropout === 'number' && { dropout: config.lora_dropout }),
      }
    : {
        r: config.lora_r as number | undefined ?? 8,
        alpha: config.lora_alpha as number | undefined ?? 32,
        dropout: config.lora_dropout as number | undefined ?? 0.1,
        ...(targets !== undefined && { targetModules: targets }),
        useDora: config.use_dora === true,
      };
  return lora(options);
}
