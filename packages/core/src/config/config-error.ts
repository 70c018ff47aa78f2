/**
 * Every mistake in options, flags or config files is a ConfigError: the CLI prints its message
 * on one line, without a stack trace, and exits with status 2 (argparse's usage-error status).
 */
export class ConfigError extends Error {
  /** The option the error is about, when there is one (its declared name). */
  readonly option: string | undefined;
  /** The config file the value came from, when it came from one. */
  readonly file: string | undefined;

  constructor(message: string, details: { option?: string; file?: string } = {}) {
    super(message);
    this.name = 'ConfigError';
    this.option = details.option;
    this.file = details.file;
  }
}

/** Where a value came from, as error messages name it. */
export type ValueSource =
  /** A command-line flag, as the user spelled it (`--lr`, `--block-size`). */
  | { readonly kind: 'flag'; readonly flag: string }
  /** A key of a YAML or JSON config file. */
  | { readonly kind: 'file'; readonly file: string; readonly key: string }
  /** A plain object passed by code (a recipe's options). */
  | { readonly kind: 'object'; readonly key: string };

export function describeSource(source: ValueSource): string {
  switch (source.kind) {
    case 'flag':
      return source.flag;
    case 'file':
      return `config file ${source.file}: key "${source.key}"`;
    case 'object':
      return `option "${source.key}"`;
  }
}
