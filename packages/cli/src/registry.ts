/**
 * Every `lmflow` command, in the order `lmflow --help` lists them. A new command is one file
 * in commands/ and one line here.
 */
import type { Command } from './command.js';
import { dataConvert } from './commands/data-convert.js';
import { dataInspect } from './commands/data-inspect.js';
import { chatCommand } from './commands/chat.js';
import { generateCommand } from './commands/generate.js';
import { finetuneCommand } from './commands/finetune.js';
import { mergeLoraCommand } from './commands/merge-lora.js';
import { quickstart } from './commands/quickstart.js';
import { serveCommand } from './commands/serve.js';
import { evaluateCommand } from './commands/evaluate.js';
import { benchmarkCommand } from './commands/benchmark.js';

export const commands: readonly Command[] = [
  quickstart,
  finetuneCommand,
  chatCommand,
  generateCommand,
  serveCommand,
  mergeLoraCommand,
  evaluateCommand,
  benchmarkCommand,
  dataConvert,
  dataInspect,
];
