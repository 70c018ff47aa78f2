/**
 * MedMCQA records (`question`, `opa`..`opd`, `cop`: the correct option) and MedQA records
 * (`question`, `options` as {"A": ...} or a list, `answer_idx`: the letter), into text2text
 * multiple-choice prompts (task-prompts.ts).
 *
 * `cop` counts from 1 in MedMCQA's own release (1 = A) and from 0 in the Hugging Face copy
 * (0 = A). The file decides: a 0 anywhere means 0-based, a 4 anywhere means 1-based, both is
 * an error; a file with neither (only 1..3) is read as the original release, 1-based.
 * Metadata (id, exp, subject_name, topic_name, choice_type; MedQA's answer, meta_info,
 * metamap_phrases) has no place in text2text and is not carried over.
 */
import type { Text2TextInstance } from '@lmflow/core';
import { DatasetError } from '../dataset/dataset-error.js';
import type { RecordCheck } from './source-records.js';
import { OPTION_LETTERS, multipleChoiceInput, multipleChoiceOutput } from './task-prompts.js';

const FIELDS = ['question', 'opa', 'opb', 'opc', 'opd', 'cop', 'id', 'exp', 'subject_name', 'topic_name', 'choice_type', 'options', 'answer_idx', 'answer', 'meta_info', 'metamap_phrases'];
const OPTION_FIELDS = ['opa', 'opb', 'opc', 'opd'] as const;

/** Whether `cop` counts from 0 or 1 in this file. */
export function medmcqaCopBase(file: string, records: readonly Record<string, unknown>[]): 0 | 1 {
  const cops = new Set(records.map((r) => r.cop));
  if (cops.has(0) && cops.has(4)) {
    throw new DatasetError({ file }, '"cop" is 0 in some records and 4 in others; it must count the options from 1 (MedMCQA\'s release) or from 0 (the Hugging Face copy), not both');
  }
  return cops.has(0) ? 0 : 1;
}

export function convertMedmcqaRecord(record: Record<string, unknown>, check: RecordCheck, copBase: 0 | 1): Text2TextInstance {
  check.knownFields(record, FIELDS);
  const question = nonEmpty(check, 'question', record.question);
  let options: string[];
  let answer: number;
  if ('options' in record) {
    options = medqaOptions(record.options, check);
    if (typeof record.answer_idx !== 'string' || !OPTION_LETTERS.slice(0, options.length).includes(record.answer_idx) || record.answer_idx === '') {
      check.expect('answer_idx', record.answer_idx, `the letter of the right option (${OPTION_LETTERS.slice(0, options.length).split('').join(', ')})`);
    }
    answer = OPTION_LETTERS.indexOf(record.answer_idx);
  } else {
    options = OPTION_FIELDS.map((field) => nonEmpty(check, field, record[field]));
    const cop = record.cop;
    const first = copBase;
    if (cop === undefined || cop === null) check.fail('has no answer ("cop"); the test split of MedMCQA has none, convert the train or dev split', 'cop');
    if (!Number.isInteger(cop) || (cop as number) < first || (cop as number) > first + 3) {
      check.expect('cop', cop, `the number of the right option, ${first}..${first + 3} (${first} = A; this file counts from ${first})`);
    }
    answer = (cop as number) - first;
  }
  return { input: multipleChoiceInput(question, options), output: multipleChoiceOutput(options, answer) };
}

function medqaOptions(value: unknown, check: RecordCheck): string[] {
  if (Array.isArray(value)) {
    if (value.length < 2 || value.length > OPTION_LETTERS.length) check.expect('options', value, `a list of 2 to ${OPTION_LETTERS.length} options`);
    return value.map((v, i) => nonEmpty(check, `options[${i}]`, v));
  }
  if (typeof value !== 'object' || value === null) check.expect('options', value, 'an object {"A": ..., "B": ...} or a list of options');
  const keys = Object.keys(value);
  const expected = OPTION_LETTERS.slice(0, keys.length).split('');
  if (keys.length < 2 || keys.some((k, i) => k !== expected[i])) check.expect('options', value, 'options keyed A, B, C, ... in order');
  return keys.map((k) => nonEmpty(check, `options.${k}`, (value as Record<string, unknown>)[k]));
}

function nonEmpty(check: RecordCheck, field: string, value: unknown): string {
  const text = check.string(field, value).trim();
  if (text === '') check.expect(field, value, 'a non-empty string');
  return text;
}
