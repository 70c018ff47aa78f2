/**
 * Every `lmflow` command, in the order `lmflow --help` lists them. A new command is one file
 * in commands/ and one line here.
 */
import type { Command } from './command.js';
import { dataConvert } from './commands/data-convert.js';
import { dataInspect } from './commands/data-inspect.js';

export const commands: readonly Command[] = [
  dataConvert,
  dataInspect,
];
