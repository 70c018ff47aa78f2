/**
 * Option groups shaped like LMFlow's model, data and training arguments, for the config tests
 * (one of every option type, bound, alias and validator). Not exported from the package.
 */
import { defineOptions } from './option-spec.js';

export const modelOptions = defineOptions('Model', {
  model_name_or_path: { type: 'string', required: true, description: 'A Hugging Face model folder or hub id.' },
  use_lora: { type: 'boolean', default: false, description: 'Train LoRA adapters instead of all weights.' },
  lora_r: { type: 'integer', default: 8, min: 1, description: 'Rank of the LoRA update.' },
  lora_target_modules: { type: 'list', items: 'string', default: ['q_proj', 'v_proj'], description: 'Module names to wrap with LoRA.' },
  trust_remote_code: { type: 'boolean', description: 'Unset lets the loader decide.' },
  torch_dtype: { type: 'enum', values: ['auto', 'float32', 'bfloat16', 'float16'], default: 'auto', description: 'Weights dtype.' },
});

export const dataOptions = defineOptions('Data', {
  dataset_path: { type: 'path', mustExist: 'any', description: 'A folder of LMFlow *.json files, or one file.' },
  block_size: {
    type: 'integer',
    min: 1,
    description: 'Tokens per sample.',
    validate: (value) => ((value & (value - 1)) === 0 ? undefined : 'a power of two'),
  },
  conversation_template: { type: 'string', description: 'A preset name or hf_auto.' },
});

export const trainingOptions = defineOptions('Training', {
  output_dir: { type: 'path', default: 'output_models/finetune', description: 'Where checkpoints go.' },
  learning_rate: { type: 'number', default: 2e-5, exclusiveMin: 0, aliases: ['lr'], description: 'Peak learning rate.' },
  num_train_epochs: { type: 'number', default: 3, min: 0, description: 'Passes over the data.' },
  lr_scheduler_type: { type: 'enum', values: ['linear', 'cosine', 'constant'], default: 'linear', description: 'Learning-rate schedule.' },
  warmup_ratio: { type: 'number', min: 0, max: 1, description: 'Fraction of steps spent warming up.' },
  loss_weights: { type: 'list', items: 'number', min: 0, description: 'Per-task loss weights.' },
  eval_steps: { type: 'list', items: 'integer', description: 'Steps to evaluate at.' },
});

export const allGroups = [modelOptions, dataOptions, trainingOptions] as const;
