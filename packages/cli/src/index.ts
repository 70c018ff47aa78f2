/**
 * @lmflow/cli: the `lmflow` command. The bin is dist/main.js; this entry exposes the router
 * in-process (tests, embedding the CLI in other tools) and the pieces to define commands.
 */
export { runCli, type RunCliOptions } from './run-cli.js';
export { defineCommand, type Command, type CommandDefinition, type CommandContext, type CliIo } from './command.js';
export { commands } from './registry.js';
export { formatMainHelp, formatCommandHelp } from './help-text.js';
export { EXIT_FAILURE, EXIT_USAGE } from './report-error.js';
export { cliVersion } from './version.js';
export { dataConvert, convertOptions } from './commands/data-convert.js';
export { dataInspect, inspectOptions } from './commands/data-inspect.js';
