/** A problem with what the user asked to evaluate: a flag, a dataset, an instance. */
export class EvaluationError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'EvaluationError';
  }
}

/** A value as errors quote it: JSON, cut short when long. */
export function quote(value: unknown, limit = 80): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > limit ? `${text.slice(0, limit - 3)}...` : text;
}
