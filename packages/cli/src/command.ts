/**
 * A command of the `lmflow` CLI: its name (one or more words, `data convert`), a summary for
 * `lmflow --help`, its option groups, and `run`. Adding a command is one file exporting
 * `defineCommand({...})` plus one line in registry.ts.
 *
 *   export const dataInspect = defineCommand({
 *     name: 'data inspect',
 *     summary: 'Show which tokens of each sample are trained.',
 *     options: [inspectOptions],
 *     async run(config, context) { ... config.dataset_path is typed from the specs ... },
 *   });
 */
import type { ConfigOfGroups, OptionGroup } from '@lmflow/core';

/** Where a command writes, and the process facts it may read; tests pass their own. */
export interface CliIo {
  readonly stdout: { write(text: string): unknown; readonly isTTY?: boolean };
  readonly stderr: { write(text: string): unknown; readonly isTTY?: boolean };
  /** Relative paths in flags and config files resolve against this folder. */
  readonly cwd: string;
  readonly env: Readonly<Record<string, string | undefined>>;
}

export interface CommandContext {
  readonly io: CliIo;
  /** Whether stdout takes ANSI colours (a TTY, and neither NO_COLOR nor TERM=dumb). */
  readonly color: boolean;
  /** A progress or summary line on stderr, so stdout stays clean for piping (`--json`). */
  log(line: string): void;
}

export interface CommandDefinition<G extends readonly OptionGroup[]> {
  /** Words after `lmflow`, lowercase, space-separated: `data convert`. */
  readonly name: string;
  /** One line for the command list of `lmflow --help`. */
  readonly summary: string;
  /** Paragraphs shown by `lmflow <name> --help`, after the usage line. */
  readonly description?: string;
  /** Full command lines shown under "Examples:". */
  readonly examples?: readonly string[];
  readonly options: G;
  /**
   * Runs after every option is validated; throw to fail (the CLI prints the message). May
   * return an exit status other than 0 for an outcome that is not an error (130: interrupted).
   */
  run(config: ConfigOfGroups<G>, context: CommandContext): Promise<void | number> | void | number;
}

/** A command as the router holds it (the config type is erased; the router validates it). */
export interface Command {
  readonly name: string;
  readonly summary: string;
  readonly description: string | undefined;
  readonly examples: readonly string[];
  readonly options: readonly OptionGroup[];
  /** Resolves to the exit status. */
  run(config: Readonly<Record<string, unknown>>, context: CommandContext): Promise<number>;
}

const COMMAND_NAME = /^[a-z][a-z0-9-]*( [a-z][a-z0-9-]*)*$/;

export function defineCommand<const G extends readonly OptionGroup[]>(definition: CommandDefinition<G>): Command {
  if (!COMMAND_NAME.test(definition.name)) {
    throw new Error(`command name "${definition.name}": expected lowercase words separated by single spaces, like "data convert"`);
  }
  return Object.freeze({
    name: definition.name,
    summary: definition.summary,
    description: definition.description,
    examples: definition.examples ?? [],
    options: definition.options,
    // The router only calls this with resolveConfig(definition.options, ...), whose result
    // has exactly the type ConfigOfGroups<G>.
    run: async (config: Readonly<Record<string, unknown>>, context: CommandContext) => {
      const status = await definition.run(config as ConfigOfGroups<G>, context);
      return typeof status === 'number' ? status : 0;
    },
  });
}
