/**
 * Tokenizing a whole dataset for training: filterSamples (async hook) over the instances, then
 * each instance through the SamplePipeline. Three entry points by what the trainer consumes:
 * samples (SFT: text_only, text2text, conversation, image_text), preference pairs (DPO, reward
 * models: paired_conversation) and scored candidates (RAFT: text_to_scored_textlist).
 */
import type { Dataset, DatasetInstance, TokenizedSample } from '@lmflow/core';
import type { Tokenizer } from '../tokenizer/load-tokenizer.js';
import { DatasetError } from '../dataset/dataset-error.js';
import { SamplePipeline, type PipelineOptions, type TokenizedInstance } from './sample-pipeline.js';

export type TokenizeDatasetOptions = PipelineOptions;

export interface PairedSample {
  chosen: TokenizedSample;
  rejected: TokenizedSample;
  origin: { file: string; index: number };
}

export interface ScoredSamples {
  candidates: { sample: TokenizedSample; score: number }[];
  origin: { file: string; index: number };
}

export async function tokenizeDataset(dataset: Dataset, tokenizer: Tokenizer, options: TokenizeDatasetOptions = {}): Promise<TokenizedSample[]> {
  if (dataset.type === 'paired_conversation' || dataset.type === 'text_to_scored_textlist') {
    const use = dataset.type === 'paired_conversation' ? 'tokenizePairedDataset (DPO, reward models)' : 'tokenizeScoredDataset (RAFT)';
    throw new DatasetError({ file: dataset.origins[0]?.file ?? '(dataset)' }, `is ${dataset.type}, which trains with ${use}, not as single samples`);
  }
  const out: TokenizedSample[] = [];
  await runPipeline(dataset, tokenizer, options, (result) => {
    if (result.kind === 'sample') out.push(result.sample);
  });
  return out;
}

export async function tokenizePairedDataset(dataset: Dataset, tokenizer: Tokenizer, options: TokenizeDatasetOptions = {}): Promise<PairedSample[]> {
  if (dataset.type !== 'paired_conversation') throw new DatasetError({ file: dataset.origins[0]?.file ?? '(dataset)' }, `is ${dataset.type}, expected paired_conversation for preference training`);
  const out: PairedSample[] = [];
  await runPipeline(dataset, tokenizer, options, (result, origin) => {
    if (result.kind === 'pair') out.push({ chosen: result.chosen, rejected: result.rejected, origin });
  });
  return out;
}

export async function tokenizeScoredDataset(dataset: Dataset, tokenizer: Tokenizer, options: TokenizeDatasetOptions = {}): Promise<ScoredSamples[]> {
  if (dataset.type !== 'text_to_scored_textlist') throw new DatasetError({ file: dataset.origins[0]?.file ?? '(dataset)' }, `is ${dataset.type}, expected text_to_scored_textlist`);
  const out: ScoredSamples[] = [];
  await runPipeline(dataset, tokenizer, options, (result, origin) => {
    if (result.kind === 'scored') out.push({ candidates: result.candidates, origin });
  });
  return out;
}

async function runPipeline(
  dataset: Dataset,
  tokenizer: Tokenizer,
  options: TokenizeDatasetOptions,
  take: (result: TokenizedInstance, origin: { file: string; index: number }) => void,
): Promise<void> {
  const pipeline = new SamplePipeline(dataset.type, tokenizer, options);
  const originOf = new Map<DatasetInstance, { file: string; index: number }>();
  dataset.instances.forEach((instance, i) => originOf.set(instance, dataset.origins[i]!));
  let instances: DatasetInstance[] = dataset.instances;
  const runtime = options.runtime;
  if (runtime) {
    instances = await runtime.data.hooks.filterSamples.promise([...dataset.instances], { type: dataset.type });
    if (dataset.type === 'image_text' && runtime.data.hooks.tokenizeSample.taps.length === 0) {
      pipeline.note('image_text: only the text is trained on, as no plugin taps data.hooks.tokenizeSample to add the images', dataset.origins[0]!);
    }
  } else if (dataset.type === 'image_text') {
    pipeline.note('image_text: only the text is trained on (no runtime with a multimodal plugin was given)', dataset.origins[0]!);
  }
  instances.forEach((instance, i) => {
    // An instance a filterSamples plugin made itself has no file; name the plugin's output instead.
    const origin = originOf.get(instance) ?? { file: '(filterSamples output)', index: i };
    const result = pipeline.run(instance, origin);
    if (result) take(result, origin);
  });
  pipeline.flushNotes();
}
