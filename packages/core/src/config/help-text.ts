/**
 * --help text from the option specs: every flag, grouped, with its type, default and
 * description, wrapped to a fixed width so the text is the same on every terminal (and in
 * docs/cli.md).
 */
import { expectedOf } from './coerce-value.js';
import type { OptionGroup, OptionSpec } from './option-spec.js';

export interface HelpTextOptions {
  /** Line width to wrap at. Default 80. */
  readonly width?: number;
  /** Append the flags the machinery itself reads (--config, --help). Default true. */
  readonly general?: boolean;
}

const INDENT = '      ';

export function formatOptionsHelp(groups: readonly OptionGroup[], options: HelpTextOptions = {}): string {
  const width = options.width ?? 80;
  const sections: string[] = [];
  for (const group of groups) {
    const entries = Object.entries(group.options).map(([name, spec]) => formatOption(name, spec, width));
    if (entries.length > 0) sections.push(`${group.title}:\n${entries.join('\n')}`);
  }
  if (options.general ?? true) {
    sections.push(
      [
        'General:',
        '  --config <file>',
        wrap('Read options from a YAML or JSON file holding the same keys as the flags (block_size: 512). Flags given as well override the file. Relative paths, in the file too, are relative to the working directory.', width),
        '  -h, --help',
        wrap('Show this help and exit.', width),
      ].join('\n'),
    );
  }
  return sections.join('\n\n');
}

function formatOption(name: string, spec: OptionSpec, width: number): string {
  const names = [name, ...(spec.aliases ?? [])].map((n) => `--${n}`).join(', ');
  let head = `  ${names} ${placeholder(spec)}`;
  if (spec.type === 'boolean') head += `, --no_${name}`;
  const notes: string[] = [];
  // A long list of choices goes into the wrapped text instead of the flag line.
  if (spec.type === 'enum' && head.length > width) {
    head = `  ${names} <choice>`;
    notes.push(`One of: ${spec.values.join(', ')}.`);
  }
  if (spec.required) notes.push('Required.');
  else if (spec.default !== undefined) notes.push(`Default: ${showDefault(spec.default)}.`);
  // The type and its bounds, in words, when the placeholder alone does not say it.
  if (spec.type === 'number' || spec.type === 'integer' || spec.type === 'list' || (spec.type === 'path' && spec.mustExist)) {
    notes.push(`Expects ${expectedOf(spec)}.`);
  }
  return `${head}\n${wrap([spec.description, ...notes].join(' '), width)}`;
}

function placeholder(spec: OptionSpec): string {
  switch (spec.type) {
    case 'string':
      return '<string>';
    case 'path':
      return '<path>';
    case 'number':
      return '<number>';
    case 'integer':
      return '<integer>';
    case 'boolean':
      return '[true|false]';
    case 'enum':
      return `{${spec.values.join(',')}}`;
    case 'list':
      return `<${spec.items}> [<${spec.items}> ...]`;
  }
}

function showDefault(value: unknown): string {
  if (Array.isArray(value)) return value.length === 0 ? '(empty list)' : value.join(',');
  if (value === '') return '""';
  // 2e-5 as users write learning rates, not 0.00002.
  if (typeof value === 'number' && value !== 0 && Math.abs(value) < 1e-3) return value.toExponential();
  return String(value);
}

/** Greedy word wrap at `width`, every line indented. */
function wrap(text: string, width: number): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && INDENT.length + line.length + 1 + word.length > width) {
      lines.push(INDENT + line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) lines.push(INDENT + line);
  return lines.join('\n');
}
