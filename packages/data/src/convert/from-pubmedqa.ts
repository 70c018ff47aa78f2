/**
 * PubMedQA's `ori_pqal.json`: an object keyed by PubMed id, each record with QUESTION,
 * CONTEXTS (the abstract's sections), final_decision (yes, no or maybe) and metadata. The
 * prompt (an array of such records is read too):
 *
 *   Context: {CONTEXTS, one per line}
 *   Question: {QUESTION}
 *   Answer (yes, no or maybe):
 *
 * with the output final_decision. Records come in the order of their ids (JSON objects with
 * integer keys iterate numerically). LONG_ANSWER (the abstract's conclusion), LABELS, MESHES,
 * YEAR and the reasoning_*_pred fields are not carried over.
 */
import type { Text2TextInstance } from '@lmflow/core';
import type { RecordCheck } from './source-records.js';

const FIELDS = ['QUESTION', 'CONTEXTS', 'LABELS', 'MESHES', 'YEAR', 'reasoning_required_pred', 'reasoning_free_pred', 'final_decision', 'LONG_ANSWER'];
const DECISIONS = ['yes', 'no', 'maybe'];

export function convertPubmedqaRecord(record: Record<string, unknown>, check: RecordCheck): Text2TextInstance {
  check.knownFields(record, FIELDS);
  const question = check.string('QUESTION', record.QUESTION).trim();
  if (question === '') check.expect('QUESTION', record.QUESTION, 'a non-empty question');
  const contexts = record.CONTEXTS;
  if (!Array.isArray(contexts) || contexts.length === 0) check.expect('CONTEXTS', contexts, 'a non-empty list of the abstract\'s passages');
  const passages = contexts.map((c, i) => check.string(`CONTEXTS[${i}]`, c).trim());
  const decision = record.final_decision;
  if (typeof decision !== 'string' || !DECISIONS.includes(decision)) check.expect('final_decision', decision, '"yes", "no" or "maybe"');
  return { input: `Context: ${passages.join('\n')}\nQuestion: ${question}\nAnswer (yes, no or maybe):`, output: decision };
}
