/**
 * GSM8K's JSON Lines (`question`, `answer`: the worked solution ending in "#### N"). The prompt
 * is "Question: {question}\nAnswer:" and the output the solution as written (its <<48/2=24>>
 * calculator notes included), so a model learns to reason before "#### N", which
 * `--answer_type gsm8k` reads.
 */
import type { Text2TextInstance } from '@lmflow/core';
import type { RecordCheck } from './source-records.js';

export function convertGsm8kRecord(record: Record<string, unknown>, check: RecordCheck): Text2TextInstance {
  check.knownFields(record, ['question', 'answer']);
  const question = check.string('question', record.question).trim();
  if (question === '') check.expect('question', record.question, 'a non-empty question');
  const answer = check.string('answer', record.answer).trim();
  if (!/####\s*-?[\d,]*\.?\d+\s*$/.test(answer)) check.expect('answer', record.answer, 'a solution ending in "#### <number>"');
  return { input: `Question: ${question}\nAnswer:`, output: answer };
}
