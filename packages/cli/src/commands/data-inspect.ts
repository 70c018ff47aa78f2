/**
 * `lmflow data inspect`: how each sample is tokenized and which tokens the loss is taken on,
 * as text (trained spans marked) or as JSON lines of input_ids and labels.
 */
import { defineOptions } from '@lmflow/core';
import { CONVERSATION_TEMPLATE_NAMES, describeDataset, formatInspection, inspectDataset, loadDataset, loadTokenizer } from '@lmflow/data';
import { defineCommand } from '../command.js';

export const inspectOptions = defineOptions('Inspection', {
  dataset_path: {
    type: 'path',
    mustExist: 'any',
    required: true,
    description: "An LMFlow dataset: a folder of *.json files, or one file, each {\"type\": ..., \"instances\": [...]}.",
  },
  model_name_or_path: {
    type: 'path',
    mustExist: 'directory',
    required: true,
    description: 'A local model folder whose tokenizer (tokenizer.json, tokenizer_config.json) is used; a folder holding only the tokenizer files will do.',
  },
  conversation_template: {
    type: 'enum',
    values: CONVERSATION_TEMPLATE_NAMES,
    description:
      "For conversation datasets: one of LMFlow's presets, or hf_auto (the tokenizer's own chat_template when it has one, else empty) or tokenizer (its chat_template, which must exist). Unset: hf_auto.",
  },
  train_on_prompt: { type: 'boolean', default: false, description: 'Also train on the prompt: the input of text2text, the user and system turns of conversations.' },
  add_eos: {
    type: 'boolean',
    default: true,
    description: 'Append EOS after each text2text output (and each scored candidate), so the model learns to stop. Conversation templates add their own end-of-turn tokens.',
  },
  block_size: { type: 'integer', min: 1, description: 'Truncate each sample to this many tokens. Unset: no truncation.' },
  max_samples: { type: 'integer', min: 1, description: 'Inspect only the first N instances. Unset: all.' },
  json: {
    type: 'boolean',
    default: false,
    description: 'Print one JSON object per sample, {"input_ids": [...], "labels": [...]}, without padding (labels are -100 where no loss is taken).',
  },
});

export const dataInspect = defineCommand({
  name: 'data inspect',
  summary: 'Show how samples are tokenized and which tokens are trained.',
  description:
    'Tokenize a dataset as training would and show, for each sample, its tokens with the trained spans marked (green on a terminal, inside ⟦ ⟧ otherwise), or with --json the input_ids and labels. Summaries go to stderr, so stdout can be piped.',
  examples: [
    'lmflow data inspect --dataset_path data/alpaca --model_name_or_path models/stories260K --max_samples 2',
    'lmflow data inspect --dataset_path data/chat --model_name_or_path Qwen3-0.6B --conversation_template hf_auto --json > samples.jsonl',
  ],
  options: [inspectOptions],
  async run(config, { io, color, log }) {
    const dataset = await loadDataset(config.dataset_path);
    log(describeDataset(dataset));
    const tokenizer = await loadTokenizer(config.model_name_or_path);
    const samples = inspectDataset(dataset, tokenizer, {
      ...(config.conversation_template !== undefined && { conversationTemplate: config.conversation_template }),
      trainOnPrompt: config.train_on_prompt,
      addEos: config.add_eos,
      ...(config.block_size !== undefined && { blockSize: config.block_size }),
      ...(config.max_samples !== undefined && { limit: config.max_samples }),
      onWarning: (message: string) => log(`warning: ${message}`),
    });
    if (config.json) {
      for (const sample of samples) io.stdout.write(`${JSON.stringify({ input_ids: sample.inputIds, labels: sample.labels })}\n`);
    } else {
      io.stdout.write(formatInspection(samples, { color }));
    }
    log(`inspected ${samples.length} sample${samples.length === 1 ? '' : 's'}`);
  },
});
