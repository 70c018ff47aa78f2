/**
 * The benchmark sources (medmcqa, pubmedqa, mmlu, gsm8k) convert to text2text only: a
 * question and its gold answer. Each has its own file layout; this reads the file and converts
 * every record, naming the bad ones.
 */
import type { Text2TextInstance } from '@lmflow/core';
import { DatasetError, describeValue } from '../dataset/dataset-error.js';
import { parseJsonText, readText } from '../dataset/json-text.js';
import { RecordCheck, readSourceRecords } from './source-records.js';
import { convertMedmcqaRecord, medmcqaCopBase } from './from-medmcqa.js';
import { convertPubmedqaRecord } from './from-pubmedqa.js';
import { convertMmluFile } from './from-mmlu.js';
import { convertGsm8kRecord } from './from-gsm8k.js';

export type TaskSource = 'medmcqa' | 'pubmedqa' | 'mmlu' | 'gsm8k';
export const TASK_SOURCES: readonly TaskSource[] = ['medmcqa', 'pubmedqa', 'mmlu', 'gsm8k'];

export async function convertTaskFile(file: string, from: TaskSource): Promise<Text2TextInstance[]> {
  switch (from) {
    case 'mmlu':
      return convertMmluFile(file);
    case 'pubmedqa':
      return convertPubmedqaFile(file);
    case 'medmcqa': {
      // MedMCQA ships JSON Lines under a .json name; a JSON array is read too.
      const { records, lines } = await readSourceRecords(file, from, { jsonLines: 'auto' });
      const base = medmcqaCopBase(file, records);
      return records.map((record, index) => convertMedmcqaRecord(record, new RecordCheck(file, index, lines, from), base));
    }
    case 'gsm8k': {
      const { records, lines } = await readSourceRecords(file, from, { jsonLines: 'auto' });
      return records.map((record, index) => convertGsm8kRecord(record, new RecordCheck(file, index, lines, from)));
    }
  }
}

/** ori_pqal.json: {"<pmid>": record, ...}; errors name the PubMed id. */
async function convertPubmedqaFile(file: string): Promise<Text2TextInstance[]> {
  const json = parseJsonText(await readText(file), file);
  if (typeof json !== 'object' || json === null) throw new DatasetError({ file }, `is ${describeValue(json)}, expected PubMedQA's {"<PubMed id>": {"QUESTION": ..., "CONTEXTS": [...], "final_decision": ...}, ...}`);
  const entries = Array.isArray(json) ? json.map((record, i) => [String(i), record] as const) : Object.entries(json);
  if (entries.length === 0) throw new DatasetError({ file }, 'has no pubmedqa records to convert');
  return entries.map(([id, record], index) => {
    const check = new RecordCheck(file, index, undefined, 'pubmedqa', Array.isArray(json) ? undefined : `record ${index} (PubMed id ${id})`);
    if (typeof record !== 'object' || record === null || Array.isArray(record)) check.fail(`is ${describeValue(record)}, expected a pubmedqa record (a JSON object)`);
    return convertPubmedqaRecord(record as Record<string, unknown>, check);
  });
}
