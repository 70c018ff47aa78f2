/**
 * The run's data: datasets read and validated, tokenized with the template and label rules of
 * @lmflow/data, cut to block_size (or packed), and split into train and eval samples. All of
 * it happens before the model loads, so data mistakes fail fast.
 */
import type { Runtime, TokenizedSample } from '@lmflow/core';
import { IGNORE_INDEX } from '@lmflow/core';
import { describeDataset, groupTexts, loadDataset, packSamples, tokenizeDataset, type Tokenizer } from '@lmflow/data';
import { epochPermutation } from '../random/data-order.js';

export interface DataConfig {
  dataset_path: string;
  eval_dataset_path?: string | undefined;
  validation_split_percentage: number;
  conversation_template?: string | undefined;
  train_on_prompt: boolean;
  add_eos: boolean;
  packing: boolean;
  /** false: samples concatenated and cut into exact block_size blocks (groupTexts). */
  disable_group_texts?: boolean;
  seed: number;
}

export interface PreparedData {
  train: TokenizedSample[];
  eval: TokenizedSample[] | null;
  /** Human-readable lines about what was read. */
  summary: string[];
}

export async function prepareData(config: DataConfig, tokenizer: Tokenizer, blockSize: number, options: { runtime?: Runtime; onWarning: (message: string) => void }): Promise<PreparedData> {
  const summary: string[] = [];
  const grouping = config.disable_group_texts === false;
  if (grouping && config.packing) {
    throw new Error('--packing and --disable_group_texts false are two ways to fill blocks (whole samples with attention kept inside each, or one stream cut every block_size tokens); choose one');
  }
  const tokenize = async (path: string, role: string) => {
    const dataset = await loadDataset(path, options.runtime ? { runtime: options.runtime } : {});
    summary.push(`${role}: ${describeDataset(dataset)}`);
    if (dataset.type === 'paired_conversation' || dataset.type === 'text_to_scored_textlist') {
      throw new Error(`--${role === 'train' ? 'dataset_path' : 'eval_dataset_path'} ${path}: a ${dataset.type} dataset is for alignment (DPO, reward models, RAFT), not for finetuning; use text_only, text2text or conversation data`);
    }
    const samples = await tokenizeDataset(dataset, tokenizer, {
      // Grouping cuts the whole stream into blocks itself: no sample is truncated first.
      ...(grouping ? {} : { blockSize }),
      trainOnPrompt: config.train_on_prompt,
      addEos: config.add_eos,
      onWarning: options.onWarning,
      ...(config.conversation_template !== undefined ? { conversationTemplate: config.conversation_template } : {}),
      ...(options.runtime ? { runtime: options.runtime } : {}),
    });
    if (grouping) {
      const blocks = groupTexts(samples, blockSize);
      if (blocks.length === 0) {
        const total = samples.reduce((n, s) => n + s.inputIds.length, 0);
        throw new Error(`--${role === 'train' ? 'dataset_path' : 'eval_dataset_path'} ${path}: ${total} tokens in all, fewer than one block of --block_size ${blockSize} (--disable_group_texts false keeps only full blocks)`);
      }
      return blocks;
    }
    return config.packing ? packSamples(samples, blockSize) : samples;
  };

  let train = await tokenize(config.dataset_path, 'train');
  let evalSamples: TokenizedSample[] | null = null;
  if (config.eval_dataset_path) {
    evalSamples = await tokenize(config.eval_dataset_path, 'eval');
  } else if (config.validation_split_percentage > 0) {
    // A seeded shuffle (not the first N samples: files are often sorted by source or length).
    const order = epochPermutation(train.length, config.seed, 0xffffffff);
    const held = Math.max(1, Math.floor((train.length * config.validation_split_percentage) / 100));
    if (held >= train.length) {
      throw new Error(`--validation_split_percentage ${config.validation_split_percentage} holds out all ${train.length} samples; lower it or pass --eval_dataset_path`);
    }
    const evalSet = new Set(Array.from(order.subarray(0, held)));
    evalSamples = train.filter((_, i) => evalSet.has(i));
    train = train.filter((_, i) => !evalSet.has(i));
    summary.push(`validation: ${held} of ${held + train.length} samples held out (--validation_split_percentage ${config.validation_split_percentage})`);
  }
  const labeled = (samples: readonly TokenizedSample[]) => samples.reduce((n, s) => n + s.labels.slice(1).filter((l) => l !== IGNORE_INDEX).length, 0);
  const trainTokens = labeled(train);
  if (trainTokens === 0) {
    throw new Error(`--dataset_path ${config.dataset_path}: no sample has a token to learn after tokenization (all labels masked: is --block_size too small for the prompts, or is every conversation missing an assistant reply?)`);
  }
  summary.push(`train: ${train.length} samples, ${trainTokens.toLocaleString('en-US')} tokens to learn${config.packing ? ` (packed into blocks of ${blockSize})` : grouping ? ` (grouped into blocks of ${blockSize})` : ''}`);
  if (evalSamples) summary.push(`eval: ${evalSamples.length} samples, ${labeled(evalSamples).toLocaleString('en-US')} tokens scored`);
  return { train, eval: evalSamples, summary };
}
