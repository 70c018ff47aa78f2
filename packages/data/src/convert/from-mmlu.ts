/**
 * MMLU's CSV files (Hendrycks et al.): no header, six columns per row: question, options A to
 * D, and the answer letter. A file named `<subject>_dev.csv`, `_val.csv` or `_test.csv` puts
 * the subject in front, as the original evaluation does:
 *
 *   The following is a multiple choice question about {subject with spaces}.
 *
 *   {question}
 *   A. ...
 *   Answer:
 *
 * with the output "B. {option B}". CSV is parsed by csv-parse (quoted fields with commas and
 * newlines are common in MMLU).
 */
import { basename } from 'node:path';
import { parse } from 'csv-parse/sync';
import type { Text2TextInstance } from '@lmflow/core';
import { DatasetError } from '../dataset/dataset-error.js';
import { readText } from '../dataset/json-text.js';
import { RecordCheck } from './source-records.js';
import { multipleChoiceInput, multipleChoiceOutput } from './task-prompts.js';

export async function convertMmluFile(file: string): Promise<Text2TextInstance[]> {
  const text = await readText(file);
  let rows: { record: string[]; info: { lines: number } }[];
  try {
    rows = parse(text, { bom: true, relax_column_count: true, skip_empty_lines: true, info: true }) as unknown as typeof rows;
  } catch (error) {
    throw new DatasetError({ file }, `is not valid CSV: ${(error as Error).message}`, { cause: error });
  }
  if (rows.length === 0) throw new DatasetError({ file }, 'has no mmlu rows to convert');
  const subject = /^(.+)_(dev|val|test)$/.exec(basename(file).replace(/\.csv$/i, ''))?.[1];
  const preamble = subject ? `The following is a multiple choice question about ${subject.replaceAll('_', ' ')}.\n\n` : '';
  // Line numbers where each row starts, for errors (a quoted field may span lines).
  const lines = rows.map((row, i) => (i === 0 ? 1 : rows[i - 1]!.info.lines + 1));
  return rows.map(({ record }, index) => {
    const check = new RecordCheck(file, index, lines, 'mmlu');
    if (record.length !== 6) check.fail(`has ${record.length} columns, expected 6: question, the options A, B, C, D, and the answer letter`);
    const [question, a, b, c, d, answer] = record.map((cell) => cell.trim()) as [string, string, string, string, string, string];
    if (question === '') check.fail('the question (column 1) is empty');
    const options = [a, b, c, d];
    const letter = answer.toUpperCase();
    if (!['A', 'B', 'C', 'D'].includes(letter)) check.fail(`the answer (column 6) is ${JSON.stringify(answer)}, expected A, B, C or D`);
    return { input: multipleChoiceInput(question, options, preamble), output: multipleChoiceOutput(options, 'ABCD'.indexOf(letter)) };
  });
}
