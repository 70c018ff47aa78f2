/**
 * The JSON body of a request, read up to a byte limit: a declared Content-Length over the
 * limit is refused before anything is read, and a body that grows past it while arriving
 * (chunked uploads declare no length) is refused as soon as it does.
 */
import type { IncomingMessage } from 'node:http';
import { ApiError, invalidRequest } from './api-error.js';

export async function readJsonBody(req: IncomingMessage, limitBytes: number): Promise<unknown> {
  const tooLarge = (size: string) =>
    new ApiError(413, 'invalid_request_error', `request body is ${size}, over the server's limit of ${limitBytes} bytes (lmflow serve --max_body_bytes)`, {
      code: 'request_too_large',
    });
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limitBytes) throw tooLarge(`${declared} bytes`);
  const type = req.headers['content-type'];
  if (type !== undefined && !/^application\/json\b/i.test(type)) {
    throw new ApiError(415, 'invalid_request_error', `Content-Type is "${type}", expected "application/json"`, { code: 'unsupported_media_type' });
  }

  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limitBytes) throw tooLarge(`over ${limitBytes} bytes`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') throw invalidRequest('the request body is empty; expected a JSON object', null, 'empty_body');
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    throw invalidRequest(`the request body is not valid JSON: ${(error as Error).message}`, null, 'invalid_json');
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw invalidRequest(`the request body is ${body === null ? 'null' : Array.isArray(body) ? 'an array' : typeof body}, expected a JSON object`, null, 'invalid_json');
  }
  return body;
}
