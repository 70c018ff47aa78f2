/**
 * JSON Lines of raw text: one JSON object `{"text": "..."}` per non-blank line (blank lines are
 * skipped; a line that is not such an object is an error). Plain-text lines are not accepted,
 * because a line of text that happens to be JSON would be read differently from its neighbours.
 * The result is `text_only`: raw text has no input/output split for the other types.
 */
import type { DatasetInstance } from '@lmflow/core';
import type { RecordCheck } from './source-records.js';
import type { ConvertTarget } from './convert-dataset.js';

export function convertJsonlTextRecord(record: Record<string, unknown>, to: ConvertTarget, check: RecordCheck): DatasetInstance {
  if (to !== 'text_only') {
    check.fail(`jsonl-text records hold only "text", which has no prompt/response split for ${to}; convert them --to text_only`);
  }
  check.knownFields(record, ['text']);
  if (!('text' in record)) check.fail('"text" is missing; a jsonl-text line is {"text": "..."}', 'text');
  return { text: check.string('text', record.text) };
}
