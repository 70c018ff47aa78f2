/**
 * `lmflow --help` (the commands) and `lmflow <command> --help` (its flags, from the option
 * specs through @lmflow/core's formatOptionsHelp).
 */
import { formatOptionsHelp } from '@lmflow/core';
import type { Command } from './command.js';

export function formatMainHelp(commands: readonly Command[], version: string): string {
  const width = Math.max(...commands.map((command) => command.name.length), '-v, --version'.length);
  const row = (left: string, right: string) => `  ${left.padEnd(width)}  ${right}`;
  return [
    `lmflow ${version}: finetune and run large language models from Node.js (LMFlow.ts)`,
    '',
    'Usage: lmflow <command> [options]',
    '       lmflow <command> --help',
    '',
    'Commands:',
    ...commands.map((command) => row(command.name, command.summary)),
    '',
    'Options:',
    row('-h, --help', 'Show this help.'),
    row('-v, --version', 'Print the version.'),
    '',
    "Flags keep LMFlow's names (--model_name_or_path, --dataset_path, ...), and every command",
    'reads the same keys from a YAML or JSON file given with --config. Errors are one line; set',
    'LMFLOW_DEBUG=1 to see stack traces.',
  ].join('\n');
}

export function formatCommandHelp(command: Command): string {
  const parts = [`Usage: lmflow ${command.name} [options]\n       lmflow ${command.name} --config <file> [options]`];
  parts.push(wrap(command.description ?? command.summary, 80));
  if (command.examples.length > 0) parts.push(['Examples:', ...command.examples.map((example) => `  ${example}`)].join('\n'));
  parts.push(formatOptionsHelp(command.options));
  return parts.join('\n\n');
}

/** Greedy word wrap, for the description paragraph. */
function wrap(text: string, width: number): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) lines.push(line);
  return lines.join('\n');
}
