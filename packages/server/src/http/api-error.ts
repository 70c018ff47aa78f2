/**
 * Errors the API answers with, in OpenAI's shape, so every OpenAI client shows them as it
 * shows OpenAI's own: `{"error": {"message", "type", "param", "code"}}` with an HTTP status.
 */
export type ApiErrorType = 'invalid_request_error' | 'authentication_error' | 'not_found_error' | 'rate_limit_error' | 'server_error' | 'service_unavailable';

export interface ApiErrorBody {
  error: { message: string; type: ApiErrorType; param: string | null; code: string | null };
}

export class ApiError extends Error {
  readonly status: number;
  readonly type: ApiErrorType;
  /** The request field at fault (`messages[1].content`, `max_tokens`), or null. */
  readonly param: string | null;
  readonly code: string | null;
  /** Extra response headers (Allow for 405, Retry-After for 429). */
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    status: number,
    type: ApiErrorType,
    message: string,
    options: { param?: string | null; code?: string | null; headers?: Record<string, string>; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'ApiError';
    this.status = status;
    this.type = type;
    this.param = options.param ?? null;
    this.code = options.code ?? null;
    this.headers = options.headers ?? {};
  }

  toJSON(): ApiErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

/** A 400 about one field of the request body. */
export function invalidRequest(message: string, param: string | null, code: string | null = null): ApiError {
  return new ApiError(400, 'invalid_request_error', message, { param, code });
}
