/**
 * `--api_key`: requests to /v1/ must carry `Authorization: Bearer <key>`. Keys are compared
 * through their SHA-256 digests with timingSafeEqual, so the time taken says nothing about
 * how much of a guess was right.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { ApiError } from './api-error.js';

export function createAuthCheck(apiKey: string | undefined): (req: IncomingMessage) => void {
  if (apiKey === undefined) return () => {};
  const expected = digest(apiKey);
  return (req) => {
    const header = req.headers.authorization;
    if (header === undefined) {
      throw new ApiError(401, 'authentication_error', 'You didn\'t provide an API key: send it as "Authorization: Bearer <key>" (the key given to lmflow serve --api_key)', {
        code: 'missing_api_key',
      });
    }
    const match = /^Bearer\s+(.+)$/i.exec(header.trim());
    if (!match) {
      throw new ApiError(401, 'authentication_error', 'The Authorization header is not of the form "Bearer <key>"', { code: 'invalid_api_key' });
    }
    if (!timingSafeEqual(digest(match[1]!), expected)) {
      throw new ApiError(401, 'authentication_error', 'Incorrect API key provided', { code: 'invalid_api_key' });
    }
  };
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
