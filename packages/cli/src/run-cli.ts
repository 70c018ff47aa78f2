/**
 * The `lmflow` router: finds the command named by the leading words of argv, shows help or
 * the version, validates every option before the command runs, and turns failures into one
 * line on stderr and an exit status. In-process and injectable, so tests drive it directly.
 */
import { closestName, resolveConfig, wantsHelp } from '@lmflow/core';
import type { CliIo, Command, CommandContext } from './command.js';
import { formatCommandHelp, formatMainHelp } from './help-text.js';
import { commands as registeredCommands } from './registry.js';
import { EXIT_USAGE, reportError } from './report-error.js';
import { cliVersion } from './version.js';

export interface RunCliOptions {
  /** The commands to route to; default: every registered command. */
  readonly commands?: readonly Command[];
}

/** Runs `lmflow <argv...>` and resolves to the exit status (0 success, 1 failure, 2 usage error). */
export async function runCli(argv: readonly string[], io: Partial<CliIo> = {}, options: RunCliOptions = {}): Promise<number> {
  const fullIo: CliIo = {
    stdout: io.stdout ?? process.stdout,
    stderr: io.stderr ?? process.stderr,
    cwd: io.cwd ?? process.cwd(),
    env: io.env ?? process.env,
  };
  const commands = options.commands ?? registeredCommands;
  const print = (text: string) => fullIo.stdout.write(`${text}\n`);
  const fail = (message: string) => {
    fullIo.stderr.write(`lmflow: error: ${message}\n`);
    return EXIT_USAGE;
  };

  const first = argv[0];
  if (first === undefined) {
    fullIo.stderr.write(`${formatMainHelp(commands, cliVersion())}\n`);
    return EXIT_USAGE;
  }
  if (first === '-h' || first === '--help') {
    print(formatMainHelp(commands, cliVersion()));
    return 0;
  }
  if (first === '-v' || first === '--version') {
    print(cliVersion());
    return 0;
  }
  // `lmflow help data convert` is `lmflow data convert --help`.
  const helpWord = first === 'help';
  const words = argv.slice(helpWord ? 1 : 0);
  if (helpWord && words.length === 0) {
    print(formatMainHelp(commands, cliVersion()));
    return 0;
  }

  const command = findCommand(words, commands);
  if (!command) return fail(unknownCommandMessage(words, commands));
  const rest = words.slice(command.name.split(' ').length);
  if (helpWord || wantsHelp(rest)) {
    print(formatCommandHelp(command));
    return 0;
  }

  const context: CommandContext = {
    io: fullIo,
    color: colorFor(fullIo),
    log: (line) => fullIo.stderr.write(`${line}\n`),
  };
  try {
    // Every option is checked here, before the command does any work.
    const config = resolveConfig(command.options, { argv: rest, cwd: fullIo.cwd });
    return await command.run(config as Record<string, unknown>, context);
  } catch (error) {
    return reportError(error, `lmflow ${command.name}`, fullIo);
  }
}

/** The command whose name is the longest run of leading words. */
function findCommand(words: readonly string[], commands: readonly Command[]): Command | undefined {
  let found: Command | undefined;
  for (const command of commands) {
    const parts = command.name.split(' ');
    if (parts.every((part, i) => words[i] === part) && (!found || parts.length > found.name.split(' ').length)) found = command;
  }
  return found;
}

function unknownCommandMessage(words: readonly string[], commands: readonly Command[]): string {
  const names = commands.map((command) => command.name);
  const list = names.join(', ');
  if (words[0]!.startsWith('-')) return `unknown option ${words[0]}; give a command first (commands: ${list}), or --help or --version`;
  // The leading words that are not flags: what the user meant as the command.
  const flagAt = words.findIndex((word) => word.startsWith('-'));
  const typed = (flagAt === -1 ? words : words.slice(0, flagAt)).join(' ');
  // `lmflow data` names a group of commands without choosing one.
  const group = names.filter((name) => name.startsWith(`${typed} `));
  if (group.length > 0) return `"${typed}" needs a subcommand: ${group.join(', ')}`;
  const guess = closestName(typed, names);
  return guess ? `unknown command "${typed}"; did you mean "${guess}"? Commands: ${list}` : `unknown command "${typed}"; commands: ${list}`;
}

function colorFor(io: CliIo): boolean {
  if (io.env.FORCE_COLOR !== undefined && io.env.FORCE_COLOR !== '0') return true;
  if (io.env.NO_COLOR !== undefined && io.env.NO_COLOR !== '') return false;
  return io.stdout.isTTY === true && io.env.TERM !== 'dumb';
}
