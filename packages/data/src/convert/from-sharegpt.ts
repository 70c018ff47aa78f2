/**
 * ShareGPT records: `conversations: [{from, value}]` with `from` one of human/user, gpt/assistant
 * and (first only) system; optional `system` and `tools`; and for preference data (the shape of
 * ../shared/data/dpo_en_demo.json) `chosen` and `rejected` answers `{from: "gpt", value}` that
 * follow a prompt ending with a human turn.
 */
import type { ConversationInstance, ConversationMessage, DatasetInstance } from '@lmflow/core';
import type { RecordCheck } from './source-records.js';
import type { ConvertTarget } from './convert-dataset.js';

const FIELDS = ['conversations', 'system', 'tools', 'chosen', 'rejected'] as const;
const USER = ['human', 'user'];
const ASSISTANT = ['gpt', 'assistant'];

export function convertShareGptRecord(record: Record<string, unknown>, to: ConvertTarget, check: RecordCheck): DatasetInstance {
  check.knownFields(record, FIELDS);
  let system = check.optionalString('system', record.system);
  const tools = readTools(record.tools, check);
  const turns = record.conversations;
  if (!Array.isArray(turns) || turns.length === 0) check.expect('conversations', turns, 'a non-empty array of {"from", "value"} turns');
  const messages: ConversationMessage[] = [];
  turns.forEach((turn, i) => {
    const field = `conversations[${i}]`;
    if (typeof turn !== 'object' || turn === null || Array.isArray(turn)) check.expect(field, turn, 'an object {"from": ..., "value": ...}');
    const { from, value } = turn as Record<string, unknown>;
    for (const key of Object.keys(turn)) {
      if (key !== 'from' && key !== 'value') check.fail(`unknown field "${field}.${key}"; a turn has "from" and "value"`, `${field}.${key}`);
    }
    const content = check.string(`${field}.value`, value);
    if (from === 'system') {
      if (i !== 0) check.expect(`${field}.from`, from, '"human" or "gpt" (a system turn may only come first)');
      if (system !== '') check.fail(`has both a "system" field and a system turn in "conversations[0]"; keep one`, `${field}.from`);
      system = content;
      return;
    }
    const expectUser = messages.length % 2 === 0;
    const role = USER.includes(from as string) ? 'user' : ASSISTANT.includes(from as string) ? 'assistant' : undefined;
    if (role === undefined) check.expect(`${field}.from`, from, '"human", "gpt" or (first only) "system"');
    if ((role === 'user') !== expectUser) check.expect(`${field}.from`, from, `${expectUser ? '"human"' : '"gpt"'} (turns alternate human, gpt, starting with human)`);
    messages.push({ role, content });
  });
  if (messages.length === 0) check.fail('has only a system turn; there is no conversation', 'conversations');
  const base = (): Omit<ConversationInstance, 'messages'> => ({ ...(system !== '' ? { system } : {}), ...(tools ? { tools } : {}) });
  const preference = 'chosen' in record || 'rejected' in record;

  if (to === 'paired_conversation') {
    if (!preference) check.fail('has no "chosen"/"rejected" answers; paired_conversation needs a preferred and a rejected answer', 'chosen');
    if (messages[messages.length - 1]!.role !== 'user') check.fail('"conversations" ends with a gpt turn; the prompt of a preference pair ends with the human turn the answers reply to', 'conversations');
    const answer = (field: 'chosen' | 'rejected'): ConversationInstance => {
      const turn = record[field];
      if (typeof turn !== 'object' || turn === null || Array.isArray(turn)) check.expect(field, turn, 'an answer {"from": "gpt", "value": ...}');
      const { from, value } = turn as Record<string, unknown>;
      if (!ASSISTANT.includes(from as string)) check.expect(`${field}.from`, from, '"gpt"');
      return { ...base(), messages: [...messages, { role: 'assistant', content: check.string(`${field}.value`, value) }] };
    };
    return { chosen: answer('chosen'), rejected: answer('rejected') };
  }
  if (preference) check.fail(`has "chosen"/"rejected" (a preference record); convert it --to paired_conversation, not --to ${to}`, 'chosen');
  if (to === 'conversation') return { ...base(), messages };
  if (to === 'text2text') {
    if (messages.length !== 2) check.fail(`has ${messages.length} turns; text2text holds one input and one output (a human turn and a gpt turn); convert it --to conversation`, 'conversations');
    if (system !== '') check.fail('has a system prompt, which text2text cannot hold; convert it --to conversation', 'system');
    if (tools) check.fail('has "tools", which text2text cannot hold; convert it --to conversation', 'tools');
    return { input: messages[0]!.content, output: messages[1]!.content };
  }
  return check.fail(`sharegpt records convert to text2text, conversation or paired_conversation, not ${to}`);
}

/** LLaMA-Factory keeps tools as one JSON string; LMFlow as a list of descriptions. */
function readTools(value: unknown, check: RecordCheck): unknown[] | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.length === 0 ? undefined : value;
  return check.expect('tools', value, 'a string or an array of tool descriptions');
}
