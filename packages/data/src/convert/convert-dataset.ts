/**
 * `lmflow data convert`: alpaca, sharegpt and jsonl-text files, and the benchmark sources
 * medmcqa, pubmedqa, mmlu and gsm8k (to text2text), into LMFlow datasets. The result is
 * validated like a file read from disk, and written with writeDataset.
 */
import type { Dataset, DatasetInstance, DatasetType } from '@lmflow/core';
import { DatasetError } from '../dataset/dataset-error.js';
import { validateInstance } from '../dataset/validate-instance.js';
import { readSourceRecords, RecordCheck } from './source-records.js';
import { convertAlpacaRecord } from './from-alpaca.js';
import { convertShareGptRecord } from './from-sharegpt.js';
import { convertJsonlTextRecord } from './from-jsonl-text.js';
import { TASK_SOURCES, convertTaskFile, type TaskSource } from './from-task-file.js';

export type ConvertSource = 'alpaca' | 'sharegpt' | 'jsonl-text' | TaskSource;
export type ConvertTarget = 'text2text' | 'conversation' | 'paired_conversation' | 'text_only';

export const CONVERT_SOURCES: readonly ConvertSource[] = ['alpaca', 'sharegpt', 'jsonl-text', ...TASK_SOURCES];
export const CONVERT_TARGETS: readonly ConvertTarget[] = ['text2text', 'conversation', 'paired_conversation', 'text_only'];

export interface ConvertOptions {
  from: ConvertSource;
  to: ConvertTarget;
}

type RecordConverter = (record: Record<string, unknown>, to: ConvertTarget, check: RecordCheck) => DatasetInstance;

const CONVERTERS: Record<Exclude<ConvertSource, TaskSource>, RecordConverter> = {
  alpaca: convertAlpacaRecord,
  sharegpt: convertShareGptRecord,
  'jsonl-text': convertJsonlTextRecord,
};

export async function convertDataset(inputPath: string, options: ConvertOptions): Promise<Dataset> {
  const { from, to } = options;
  if (!CONVERT_SOURCES.includes(from)) throw new DatasetError({ file: inputPath }, `cannot convert from "${String(from)}"; expected one of ${CONVERT_SOURCES.join(', ')}`);
  if (!CONVERT_TARGETS.includes(to)) throw new DatasetError({ file: inputPath }, `cannot convert to "${String(to)}"; expected one of ${CONVERT_TARGETS.join(', ')}`);
  if (isTaskSource(from)) {
    if (to !== 'text2text') throw new DatasetError({ file: inputPath }, `${from} records convert to text2text (a question and its gold answer), not ${to}`);
    const instances = await convertTaskFile(inputPath, from);
    instances.forEach((instance, index) => validateInstance('text2text', instance, inputPath, index));
    return { type: 'text2text', instances, origins: instances.map((_, index) => ({ file: inputPath, index })) };
  }
  if (from === 'jsonl-text' && to !== 'text_only') {
    throw new DatasetError({ file: inputPath }, `jsonl-text holds raw text, which converts to text_only, not ${to} (it has no prompt/response split)`);
  }
  if (from !== 'jsonl-text' && to === 'text_only') {
    throw new DatasetError({ file: inputPath }, `${from} records convert to text2text, conversation or paired_conversation; text_only would lose which part is the prompt`);
  }
  const { records, lines } = await readSourceRecords(inputPath, from, { jsonLines: from === 'jsonl-text' });
  const convert = CONVERTERS[from];
  const instances = records.map((record, index) => convert(record, to, new RecordCheck(inputPath, index, lines, from)));
  const type: DatasetType = to;
  // What we built must be what loadDataset accepts, so a written file always loads again.
  instances.forEach((instance, index) => validateInstance(type, instance, inputPath, index));
  return { type, instances, origins: instances.map((_, index) => ({ file: inputPath, index })) };
}

function isTaskSource(source: ConvertSource): source is TaskSource {
  return (TASK_SOURCES as readonly string[]).includes(source);
}
