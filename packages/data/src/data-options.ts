/**
 * The data flags, with LMFlow's names, for `resolveConfig` (@lmflow/core): what finetune,
 * inspect and the other commands that read a dataset accept.
 */
import { defineOptions } from '@lmflow/core';
import { CONVERSATION_TEMPLATE_NAMES } from './templates/resolve-template.js';

export const dataOptions = defineOptions('Data', {
  dataset_path: {
    type: 'path',
    mustExist: 'any',
    required: true,
    description: 'An LMFlow dataset: a folder of *.json files {"type": ..., "instances": [...]}, or one such file.',
  },
  conversation_template: {
    type: 'enum',
    values: CONVERSATION_TEMPLATE_NAMES as readonly string[],
    description: "How conversations become tokens: an LMFlow preset, `tokenizer` (the model's chat_template) or `hf_auto`. Default: the model's chat_template when it has one, else `empty`.",
  },
  block_size: {
    type: 'integer',
    min: 1,
    description: "Longest sample in tokens; longer ones keep their start. Default: the tokenizer's model_max_length, at most 1024.",
  },
  train_on_prompt: {
    type: 'boolean',
    default: false,
    description: 'Also learn the prompt: user and system turns of conversations, the input of text2text.',
  },
  add_eos: {
    type: 'boolean',
    default: true,
    description: 'Append EOS after each text2text output, so the model learns to stop (LMFlow appends none).',
  },
  packing: {
    type: 'boolean',
    default: false,
    description: 'Pack whole samples into block_size blocks; attention and positions restart at each sample.',
  },
  disable_group_texts: {
    type: 'boolean',
    default: true,
    description:
      "LMFlow's flag. false: concatenate all samples and cut them into blocks of exactly block_size tokens, dropping the remainder (Hugging Face's group_texts; continued pretraining). Attention runs across sample borders; not with --packing.",
  },
});
