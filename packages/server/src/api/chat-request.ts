/**
 * POST /v1/chat/completions bodies, checked field by field. Messages are system, developer
 * (OpenAI's newer name for system), user and assistant turns with text content: a string or
 * a list of {"type": "text"} parts. Tool calls, images and audio are refused by name.
 */
import type { ChatMessage } from '../engine/engine.js';
import { invalidRequest } from '../http/api-error.js';
import { optionalBoolean, rejectUnknownFields, requiredString, show, streamOptions, type Body } from './fields.js';
import { optionalUser } from './completion-request.js';
import { SAMPLING_FIELDS, samplingParams, type SamplingParams } from './sampling.js';

export interface ChatRequest {
  model: string;
  messages: ChatMessage[];
  stream: boolean;
  includeUsage: boolean;
  sampling: SamplingParams;
}

const FIELDS = ['model', 'messages', 'stream', 'stream_options', 'user', 'max_completion_tokens', 'response_format', 'tools', 'tool_choice', ...SAMPLING_FIELDS];
const ROLES = ['system', 'developer', 'user', 'assistant'];

export function parseChatRequest(body: Body): ChatRequest {
  rejectUnknownFields(body, FIELDS, '/v1/chat/completions');
  const model = requiredString(body, 'model');
  const stream = optionalBoolean(body, 'stream') ?? false;
  optionalUser(body);
  refuseTools(body);
  const format = body.response_format;
  if (format !== undefined && format !== null) {
    const type = typeof format === 'object' && !Array.isArray(format) ? (format as Body).type : undefined;
    if (type !== 'text') {
      throw invalidRequest(`response_format is ${show(format)}, but only {"type": "text"} is supported (no JSON mode or schemas)`, 'response_format', 'unsupported_value');
    }
  }
  return {
    model,
    messages: messagesOf(body.messages),
    stream,
    includeUsage: streamOptions(body, stream).includeUsage,
    // max_completion_tokens is OpenAI's current name; max_tokens the older one.
    sampling: samplingParams(body, ['max_completion_tokens', 'max_tokens']),
  };
}

function refuseTools(body: Body): void {
  const tools = body.tools;
  if (tools !== undefined && tools !== null && !(Array.isArray(tools) && tools.length === 0)) {
    throw invalidRequest('tools are not supported by this server (no tool calling); leave "tools" out', 'tools', 'unsupported_value');
  }
  const choice = body.tool_choice;
  if (choice !== undefined && choice !== null && choice !== 'none') {
    throw invalidRequest(`tool_choice is ${show(choice)}, but tools are not supported; leave it out or use "none"`, 'tool_choice', 'unsupported_value');
  }
}

function messagesOf(value: unknown): ChatMessage[] {
  if (value === undefined || value === null) throw invalidRequest('messages is required: a list of {"role", "content"} objects', 'messages', 'missing_required_parameter');
  if (!Array.isArray(value)) throw invalidRequest(`messages is ${show(value)}, expected a list of {"role", "content"} objects`, 'messages', 'invalid_type');
  if (value.length === 0) throw invalidRequest('messages is an empty list; expected at least one message', 'messages', 'invalid_value');
  const messages = value.map((item, i) => messageOf(item, `messages[${i}]`));
  const last = messages[messages.length - 1]!;
  if (last.role !== 'user') {
    throw invalidRequest(`messages[${messages.length - 1}].role is "${last.role}"; the last message must be from the user, so the answer is the assistant's next turn`, `messages[${messages.length - 1}].role`, 'invalid_value');
  }
  return messages;
}

function messageOf(item: unknown, at: string): ChatMessage {
  if (item === null || typeof item !== 'object' || Array.isArray(item)) throw invalidRequest(`${at} is ${show(item)}, expected an object with "role" and "content"`, at, 'invalid_type');
  const message = item as Body;
  for (const key of Object.keys(message)) {
    if (key !== 'role' && key !== 'content') {
      const why = key === 'tool_calls' || key === 'tool_call_id' ? 'tool calls are not supported' : key === 'name' ? 'participant names are not supported by chat templates' : 'accepted: role, content';
      throw invalidRequest(`${at}.${key}: unrecognized message field (${why})`, `${at}.${key}`, 'unknown_parameter');
    }
  }
  const role = message.role;
  if (typeof role !== 'string' || !ROLES.includes(role)) {
    const extra = role === 'tool' || role === 'function' ? ' (tool messages are not supported)' : '';
    throw invalidRequest(`${at}.role is ${show(role)}, expected one of ${ROLES.join(', ')}${extra}`, `${at}.role`, 'invalid_value');
  }
  return { role: role === 'developer' ? 'system' : (role as ChatMessage['role']), content: contentOf(message.content, `${at}.content`) };
}

function contentOf(value: unknown, at: string): string {
  if (typeof value === 'string') return value;
  if (value === undefined || value === null) throw invalidRequest(`${at} is required: the message text`, at, 'missing_required_parameter');
  if (!Array.isArray(value)) throw invalidRequest(`${at} is ${show(value)}, expected a string or a list of {"type": "text", "text": ...} parts`, at, 'invalid_type');
  return value
    .map((part, j) => {
      const where = `${at}[${j}]`;
      if (part === null || typeof part !== 'object' || Array.isArray(part)) throw invalidRequest(`${where} is ${show(part)}, expected {"type": "text", "text": ...}`, where, 'invalid_type');
      const { type, text } = part as Body;
      if (type !== 'text') throw invalidRequest(`${where}.type is ${show(type)}, but only "text" parts are supported (no images, audio or files)`, `${where}.type`, 'unsupported_value');
      if (typeof text !== 'string') throw invalidRequest(`${where}.text is ${show(text)}, expected a string`, `${where}.text`, 'invalid_type');
      return text;
    })
    .join('');
}
