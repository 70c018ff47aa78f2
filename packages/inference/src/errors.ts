/**
 * The error generation throws for a caller's mistake (a bad option, a prompt that does not fit,
 * a malformed generation_config.json): its message names the option, file or field, the value
 * and what was expected. Its own name lets the CLI tell it from a bug.
 */
export class GenerationError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'GenerationError';
  }
}
