/**
 * Alpaca records (`instruction`, `input`, `output`, optionally `system` and `history`, or
 * `chosen`/`rejected` instead of `output` for preference data), as LLaMA-Factory defines them.
 *
 * The user turn is the instruction and the input joined by one newline, leaving out an empty
 * one: `instruction + "\n" + input` when input is non-empty, else `instruction`. That is
 * LLaMA-Factory's own alpaca converter (the source of ../shared/data/alpaca_en_demo.json) and
 * what most converters do.
 */
import type { ConversationInstance, ConversationMessage, DatasetInstance } from '@lmflow/core';
import type { RecordCheck } from './source-records.js';
import type { ConvertTarget } from './convert-dataset.js';

const FIELDS = ['instruction', 'input', 'output', 'system', 'history', 'chosen', 'rejected'] as const;

export function alpacaUserTurn(instruction: string, input: string): string {
  return [instruction, input].filter((part) => part !== '').join('\n');
}

export function convertAlpacaRecord(record: Record<string, unknown>, to: ConvertTarget, check: RecordCheck): DatasetInstance {
  check.knownFields(record, FIELDS);
  const instruction = check.string('instruction', record.instruction);
  const input = check.optionalString('input', record.input);
  const user = alpacaUserTurn(instruction, input);
  if (user === '') check.fail('"instruction" and "input" are both empty; there is no prompt', 'instruction');
  const system = check.optionalString('system', record.system);
  const history = readHistory(record.history, check);
  const preference = 'chosen' in record || 'rejected' in record;

  if (to === 'paired_conversation') {
    if (!preference) check.fail('has no "chosen"/"rejected" answers; paired_conversation needs a preferred and a rejected answer (alpaca preference records have "chosen" and "rejected" instead of "output")', 'chosen');
    if ('output' in record) check.fail('has both "output" and "chosen"/"rejected"; a preference record has only "chosen" and "rejected"', 'output');
    const prompt = [...history, { role: 'user', content: user } as ConversationMessage];
    const side = (answer: string): ConversationInstance => ({
      ...(system !== '' ? { system } : {}),
      messages: [...prompt, { role: 'assistant', content: answer }],
    });
    return { chosen: side(check.string('chosen', record.chosen)), rejected: side(check.string('rejected', record.rejected)) };
  }
  if (preference) check.fail(`has "chosen"/"rejected" (a preference record); convert it --to paired_conversation, not --to ${to}`, 'chosen');
  const output = check.string('output', record.output);
  if (to === 'conversation') {
    return {
      ...(system !== '' ? { system } : {}),
      messages: [...history, { role: 'user', content: user }, { role: 'assistant', content: output }],
    };
  }
  if (to === 'text2text') {
    if (system !== '') check.fail('has a "system" prompt, which text2text cannot hold; convert it --to conversation', 'system');
    if (history.length > 0) check.fail('has a "history" of earlier turns, which text2text cannot hold; convert it --to conversation', 'history');
    return { input: user, output };
  }
  return check.fail(`alpaca records convert to text2text, conversation or paired_conversation, not ${to}`);
}

function readHistory(value: unknown, check: RecordCheck): ConversationMessage[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) check.expect('history', value, 'an array of [instruction, response] pairs');
  const messages: ConversationMessage[] = [];
  value.forEach((pair, i) => {
    if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string' || typeof pair[1] !== 'string') {
      check.expect(`history[${i}]`, pair, 'a pair of strings [instruction, response]');
    }
    messages.push({ role: 'user', content: pair[0] }, { role: 'assistant', content: pair[1] });
  });
  return messages;
}
