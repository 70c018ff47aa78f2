/**
 * The flags of `lmflow finetune`, with LMFlow's and Hugging Face TrainingArguments' names and,
 * where it serves users, their defaults. The data flags (dataset_path, conversation_template,
 * block_size, ...) come from @lmflow/data's `dataOptions`.
 */
import { defineOptions } from '@lmflow/core';
import { SCHEDULER_TYPES } from '../schedule/lr-scheduler.js';

export const modelOptions = defineOptions('Model', {
  model_name_or_path: {
    type: 'string',
    required: true,
    description: 'A local Hugging Face model folder (config.json, *.safetensors, tokenizer.json), or a hub id fetched into the Hugging Face cache.',
  },
  torch_dtype: {
    type: 'enum',
    values: ['auto', 'float32', 'bfloat16', 'float16'] as const,
    default: 'float32',
    description: 'Parameter dtype while training. bfloat16 halves memory; AdamW then keeps f32 master weights. auto: as the checkpoint is stored.',
  },
  device: {
    type: 'string',
    description: "Where to compute: cpu (native), reference (slow float64 oracle), cuda, cuda:N. Default: LMFLOW_DEVICE, else cpu.",
  },
});

export const evalOptions = defineOptions('Evaluation', {
  eval_dataset_path: {
    type: 'path',
    mustExist: 'any',
    description: 'An LMFlow dataset to compute the eval loss and perplexity on. Unset: see --validation_split_percentage.',
  },
  validation_split_percentage: {
    type: 'number',
    min: 0,
    exclusiveMax: 100,
    default: 0,
    description: 'Hold out this percentage of the training samples (chosen with --seed) for evaluation when no --eval_dataset_path is given.',
  },
  eval_steps: {
    type: 'integer',
    min: 1,
    description: 'Evaluate every N optimizer steps (and at the end). Unset: only at the end, when there is an eval set.',
  },
  per_device_eval_batch_size: { type: 'integer', min: 1, default: 8, description: 'Samples per evaluation batch.' },
});

export const trainingOptions = defineOptions('Training', {
  output_dir: {
    type: 'path',
    required: true,
    description: 'Where the finetuned model, checkpoints, metrics.jsonl and report.html go.',
  },
  overwrite_output_dir: {
    type: 'boolean',
    default: false,
    description: 'Allow an output_dir that already holds a finished model (without it such a folder is refused, so nothing is lost).',
  },
  num_train_epochs: { type: 'number', exclusiveMin: 0, default: 3, description: 'Passes over the training data (fractions allowed).' },
  max_steps: { type: 'integer', default: -1, description: 'Stop after this many optimizer steps; overrides num_train_epochs when > 0.' },
  per_device_train_batch_size: { type: 'integer', min: 1, default: 8, description: 'Samples per micro-batch.' },
  gradient_accumulation_steps: { type: 'integer', min: 1, default: 1, description: 'Micro-batches per optimizer step; their gradients add up as one larger batch.' },
  learning_rate: { type: 'number', exclusiveMin: 0, default: 5e-5, aliases: ['lr'], description: 'Peak learning rate.' },
  lr_scheduler_type: { type: 'enum', values: SCHEDULER_TYPES, default: 'linear', description: 'How the learning rate changes over the run (after warmup).' },
  warmup_ratio: { type: 'number', min: 0, max: 1, default: 0, description: 'Fraction of the steps spent warming up linearly from 0 (used when --warmup_steps is 0).' },
  warmup_steps: { type: 'integer', min: 0, default: 0, description: 'Steps of linear warmup from 0; overrides --warmup_ratio when > 0.' },
  optim: {
    type: 'enum',
    values: ['adamw_torch', 'adamw', 'sgd'] as const,
    default: 'adamw_torch',
    description: 'Optimizer: AdamW (decoupled weight decay, as torch.optim.AdamW) or SGD.',
  },
  weight_decay: { type: 'number', min: 0, default: 0, description: 'Weight decay (not applied to biases and norms).' },
  adam_beta1: { type: 'number', min: 0, exclusiveMax: 1, default: 0.9, description: "AdamW's beta1." },
  adam_beta2: { type: 'number', min: 0, exclusiveMax: 1, default: 0.999, description: "AdamW's beta2." },
  adam_epsilon: { type: 'number', exclusiveMin: 0, default: 1e-8, description: "AdamW's epsilon." },
  sgd_momentum: { type: 'number', min: 0, default: 0, description: 'Momentum for --optim sgd.' },
  max_grad_norm: { type: 'number', min: 0, default: 1, description: 'Clip the global gradient norm to this (0 disables clipping).' },
  gradient_checkpointing: {
    type: 'boolean',
    default: false,
    description: 'Recompute each decoder layer during backward instead of keeping its activations: much less memory for long blocks and deep models, about a third more compute.',
  },
  seed: { type: 'integer', min: 0, default: 42, description: 'Seed of the data order, the validation split and dropout: the same seed repeats a run.' },
  logging_steps: { type: 'integer', min: 1, default: 10, description: 'Log loss, learning rate and throughput every N optimizer steps.' },
  save_steps: { type: 'integer', min: 1, description: 'Write a checkpoint every N optimizer steps. Unset: only at the end (and on Ctrl-C).' },
  save_total_limit: { type: 'integer', min: 1, description: 'Keep at most N checkpoints (the newest). Unset: keep all.' },
  resume_from_checkpoint: {
    type: 'string',
    description: 'A checkpoint folder to continue from, or "auto" for the latest complete one in output_dir.',
  },
});
