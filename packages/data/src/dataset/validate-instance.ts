/**
 * Validation of LMFlow instances, type by type. Every problem names the field path and the
 * value found and says what was expected; unknown fields are errors too, because a field we do
 * not read would be silently dropped.
 */
import { DATASET_TYPES, type DatasetInstance, type DatasetType } from '@lmflow/core';
import { DatasetError, describeValue } from './dataset-error.js';

/** The fields each type allows (required ones first). */
export const INSTANCE_FIELDS: Readonly<Record<DatasetType, { required: readonly string[]; optional: readonly string[] }>> = {
  text_only: { required: ['text'], optional: [] },
  text2text: { required: ['input', 'output'], optional: [] },
  conversation: { required: ['messages'], optional: ['system', 'tools', 'conversation_id'] },
  paired_conversation: { required: ['chosen', 'rejected'], optional: [] },
  text_to_scored_textlist: { required: ['input', 'output'], optional: [] },
  image_text: { required: ['images', 'text'], optional: [] },
};

const MESSAGE_FIELDS = ['role', 'content'];

export function isDatasetType(value: unknown): value is DatasetType {
  return typeof value === 'string' && (DATASET_TYPES as readonly string[]).includes(value);
}

/** Throws a DatasetError for the first problem of `instance`; returns it typed otherwise. */
export function validateInstance(type: DatasetType, instance: unknown, file: string, index: number): DatasetInstance {
  const check: InstanceCheck = new InstanceCheck(file, index);
  switch (type) {
    case 'text_only':
      check.fields('', instance, type);
      check.string('text', (instance as Record<string, unknown>).text);
      break;
    case 'text2text':
      check.fields('', instance, type);
      check.string('input', (instance as Record<string, unknown>).input);
      check.string('output', (instance as Record<string, unknown>).output);
      break;
    case 'conversation':
      check.conversation('', instance);
      break;
    case 'paired_conversation': {
      check.fields('', instance, type);
      const pair = instance as Record<string, unknown>;
      check.conversation('chosen.', pair.chosen);
      check.conversation('rejected.', pair.rejected);
      break;
    }
    case 'text_to_scored_textlist': {
      check.fields('', instance, type);
      const scored = instance as Record<string, unknown>;
      check.string('input', scored.input);
      check.scoredList('output', scored.output);
      break;
    }
    case 'image_text': {
      check.fields('', instance, type);
      const item = instance as Record<string, unknown>;
      check.stringArray('images', item.images);
      check.string('text', item.text);
      break;
    }
  }
  return instance as DatasetInstance;
}

class InstanceCheck {
  constructor(
    private readonly file: string,
    private readonly index: number,
  ) {}

  fail(field: string, value: unknown, expected: string): never {
    throw new DatasetError({ file: this.file, index: this.index, field }, `"${field}" is ${describeValue(value)}, expected ${expected}`);
  }

  /** An object with the required fields of `type` and no unknown ones. */
  fields(prefix: string, value: unknown, type: DatasetType): asserts value is Record<string, unknown> {
    const { required, optional } = INSTANCE_FIELDS[type];
    const all = [...required, ...optional];
    const where = prefix === '' ? 'the instance' : `"${prefix.slice(0, -1)}"`;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new DatasetError(
        { file: this.file, index: this.index, field: prefix.slice(0, -1) || undefined },
        `${where} is ${describeValue(value)}, expected an object with ${all.map((f) => `"${f}"`).join(', ')} (a ${type} instance)`,
      );
    }
    for (const field of required) {
      if (!(field in value)) {
        throw new DatasetError({ file: this.file, index: this.index, field: prefix + field }, `"${prefix}${field}" is missing; a ${type} instance has ${describeFields(type)}`);
      }
    }
    for (const key of Object.keys(value)) {
      if (!all.includes(key)) {
        throw new DatasetError({ file: this.file, index: this.index, field: prefix + key }, `unknown field "${prefix}${key}"; a ${type} instance has ${describeFields(type)}`);
      }
    }
  }

  string(field: string, value: unknown): void {
    if (typeof value !== 'string') this.fail(field, value, 'a string');
  }

  stringArray(field: string, value: unknown): void {
    if (!Array.isArray(value)) this.fail(field, value, 'an array of strings');
    value.forEach((item, i) => {
      if (typeof item !== 'string') this.fail(`${field}[${i}]`, item, 'a string');
    });
  }

  scoredList(field: string, value: unknown): void {
    if (!Array.isArray(value) || value.length === 0) this.fail(field, value, 'a non-empty array of {"text", "score"} objects');
    value.forEach((item, i) => {
      const path = `${field}[${i}]`;
      if (typeof item !== 'object' || item === null || Array.isArray(item)) this.fail(path, item, 'an object {"text": string, "score": number}');
      for (const key of Object.keys(item)) {
        if (key !== 'text' && key !== 'score') this.fail(`${path}.${key}`, (item as Record<string, unknown>)[key], 'no such field (a scored text has "text" and "score")');
      }
      this.string(`${path}.text`, (item as Record<string, unknown>).text);
      const score = (item as Record<string, unknown>).score;
      if (typeof score !== 'number' || !Number.isFinite(score)) this.fail(`${path}.score`, score, 'a finite number');
    });
  }

  conversation(prefix: string, value: unknown): void {
    this.fields(prefix, value, 'conversation');
    const { system, tools, conversation_id: id, messages } = value;
    if (system !== undefined && system !== null && typeof system !== 'string') this.fail(`${prefix}system`, system, 'a string (or null)');
    if (tools !== undefined && tools !== null) {
      if (!Array.isArray(tools)) this.fail(`${prefix}tools`, tools, 'an array of tool descriptions (strings or objects)');
      tools.forEach((tool, i) => {
        if (typeof tool !== 'string' && (typeof tool !== 'object' || tool === null || Array.isArray(tool))) {
          this.fail(`${prefix}tools[${i}]`, tool, 'a tool description (a string or an object)');
        }
      });
    }
    if (id !== undefined && id !== null && typeof id !== 'string' && typeof id !== 'number') this.fail(`${prefix}conversation_id`, id, 'a string or a number');
    if (!Array.isArray(messages) || messages.length === 0) this.fail(`${prefix}messages`, messages, 'a non-empty array of {"role", "content"} messages');
    messages.forEach((message, i) => {
      const path = `${prefix}messages[${i}]`;
      if (typeof message !== 'object' || message === null || Array.isArray(message)) this.fail(path, message, 'an object {"role": ..., "content": ...}');
      const m = message as Record<string, unknown>;
      for (const key of MESSAGE_FIELDS) {
        if (!(key in m)) this.fail(`${path}.${key}`, undefined, key === 'role' ? '"user" or "assistant"' : 'a string');
      }
      for (const key of Object.keys(m)) {
        if (!MESSAGE_FIELDS.includes(key)) {
          throw new DatasetError({ file: this.file, index: this.index, field: `${path}.${key}` }, `unknown field "${path}.${key}"; a message has "role" and "content"`);
        }
      }
      if (m.role !== 'user' && m.role !== 'assistant') {
        const hint = m.role === 'system' ? ' (put a system prompt in the conversation\'s "system" field)' : '';
        this.fail(`${path}.role`, m.role, `"user" or "assistant"${hint}`);
      }
      this.string(`${path}.content`, m.content);
    });
  }
}

function describeFields(type: DatasetType): string {
  const { required, optional } = INSTANCE_FIELDS[type];
  const list = required.map((f) => `"${f}"`).join(', ');
  return optional.length === 0 ? list : `${list} (and optionally ${optional.map((f) => `"${f}"`).join(', ')})`;
}
