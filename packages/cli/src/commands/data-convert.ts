/**
 * `lmflow data convert`: alpaca, ShareGPT and JSON-lines text files, and the benchmark files of
 * MedMCQA, PubMedQA, MMLU and GSM8K, into LMFlow's dataset format, through @lmflow/data (which
 * checks every record and names the bad ones).
 */
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, defineOptions } from '@lmflow/core';
import { CONVERT_SOURCES, CONVERT_TARGETS, convertDataset, describeDataset, writeDataset } from '@lmflow/data';
import { defineCommand } from '../command.js';

export const convertOptions = defineOptions('Conversion', {
  from: {
    type: 'enum',
    values: CONVERT_SOURCES,
    required: true,
    description:
      'Format of the input. alpaca: a JSON list of {instruction, input, output} records (system, history, and chosen/rejected for preference data, as in LLaMA-Factory). sharegpt: a JSON list of {conversations: [{from, value}]} records (chosen/rejected for preference data). jsonl-text: one {"text": ...} object per line. medmcqa (JSON Lines with question, opa..opd, cop; or MedQA\'s options and answer_idx), pubmedqa (ori_pqal.json), mmlu (the CSV files) and gsm8k (JSON Lines with question and "#### N" answers) convert to text2text questions with the prompts of docs/evaluation.md.',
  },
  to: {
    type: 'enum',
    values: CONVERT_TARGETS,
    required: true,
    description:
      "LMFlow dataset type to write. alpaca converts to text2text, conversation or paired_conversation; sharegpt to conversation or paired_conversation; jsonl-text to text_only; medmcqa, pubmedqa, mmlu and gsm8k to text2text.",
  },
  input_path: { type: 'path', mustExist: 'file', required: true, aliases: ['input'], description: 'The file to convert.' },
  output_path: {
    type: 'path',
    required: true,
    aliases: ['output'],
    description:
      'Where to write the LMFlow JSON: a path ending in .json is the file; any other path is a folder (created if needed) that receives <input name>.json, ready for --dataset_path.',
  },
  overwrite_output: { type: 'boolean', default: false, description: 'Replace the output file if it exists.' },
});

export const dataConvert = defineCommand({
  name: 'data convert',
  summary: "Convert alpaca, ShareGPT, JSON-lines text and benchmark files (MedMCQA, PubMedQA, MMLU, GSM8K) into LMFlow's dataset format.",
  description:
    "Convert alpaca, ShareGPT or JSON-lines text files into LMFlow's dataset format ({\"type\": ..., \"instances\": [...]}). Every record is checked: a bad one fails the conversion with its file, record index and field, and nothing is dropped. The output is written atomically.",
  examples: [
    'lmflow data convert --from alpaca --to text2text --input_path alpaca_en_demo.json --output_path data/alpaca',
    'lmflow data convert --from sharegpt --to paired_conversation --input dpo_en_demo.json --output data/dpo/train.json',
    'lmflow data convert --from medmcqa --to text2text --input medmcqa/dev.json --output data/medmcqa-dev',
  ],
  options: [convertOptions],
  async run(config, { log }) {
    const output = outputFile(config.output_path, config.input_path);
    if (existsSync(output) && !config.overwrite_output) {
      throw new ConfigError(`--output_path: ${output} exists; pass --overwrite_output to replace it`, { option: 'output_path' });
    }
    const dataset = await convertDataset(config.input_path, { from: config.from, to: config.to });
    log(describeDataset(dataset));
    await writeDataset(dataset, output);
    log(`wrote ${dataset.instances.length} ${dataset.type} instances to ${output}`);
  },
});

/** A .json path is the file; anything else is a folder that gets <input name>.json. */
function outputFile(outputPath: string, inputPath: string): string {
  const isFolder = path.extname(outputPath).toLowerCase() !== '.json' || statSync(outputPath, { throwIfNoEntry: false })?.isDirectory();
  return isFolder ? path.join(outputPath, `${path.basename(inputPath, path.extname(inputPath))}.json`) : outputPath;
}
