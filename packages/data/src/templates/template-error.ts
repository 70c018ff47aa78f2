/**
 * A conversation that a template cannot encode, or a template that cannot be used. The
 * tokenization pipeline adds the file and instance (see DatasetError).
 */
export class TemplateError extends Error {
  constructor(
    message: string,
    /** The instance field at fault, when there is one. */
    readonly field?: string,
  ) {
    super(message);
    this.name = 'TemplateError';
  }
}
