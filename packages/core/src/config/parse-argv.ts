/**
 * Command-line flags, read the way Hugging Face's HfArgumentParser (argparse) reads them, since
 * that is what LMFlow users type: `--key value`, `--key=value`, `--flag` or `--flag false` for
 * booleans (`--no_flag` too), several values after a list flag, `--key-name` for `--key_name`.
 *
 * Written by hand: node's util.parseArgs has no multi-value options or optional boolean
 * values, and commander/yargs own the whole process (help, exit codes) and could not give
 * config-file keys and flags the same validation and messages.
 */
import { ConfigError } from './config-error.js';
import { closestName } from './closest-name.js';
import type { OptionSpec } from './option-spec.js';

export interface OptionEntry {
  /** The declared name (an alias resolves to it). */
  readonly name: string;
  readonly spec: OptionSpec;
  readonly group: string;
}

/** One flag as given: its option, the spelling the user typed, and its raw values. */
export interface FlagValue {
  readonly option: string;
  /** As typed, without `=value` (`--lr`, `--block-size`): error messages quote it. */
  readonly flag: string;
  /** The words after the flag (or after `=`); empty for a bare `--flag`. */
  readonly values: readonly string[];
  /** `--no_flag`: the boolean is false. */
  readonly negated: boolean;
}

export interface ParsedArgv {
  /** `-h` or `--help` was given (anywhere, as argparse does). */
  readonly help: boolean;
  /** The `--config` file, as given. */
  readonly configPath: string | undefined;
  readonly flags: readonly FlagValue[];
}

/** `-h` or `--help` anywhere in argv. */
export function wantsHelp(argv: readonly string[]): boolean {
  return argv.some((token) => token === '-h' || token === '--help');
}

/** A word that starts a flag; `-1` and `-0.5` are values (negative numbers), `-` alone too. */
function isFlagLike(token: string): boolean {
  return token.startsWith('-') && token.length > 1 && !/^-\.?\d/.test(token);
}

export function parseArgv(argv: readonly string[], options: ReadonlyMap<string, OptionEntry>): ParsedArgv {
  let help = false;
  let configPath: string | undefined;
  const flags: FlagValue[] = [];
  const seen = new Map<string, FlagValue>();
  // The last flag and the values it took, for "unexpected argument" messages.
  let previous: { flag: string; values: readonly string[] } | undefined;

  let i = 0;
  while (i < argv.length) {
    const token = argv[i]!;
    i += 1;
    if (token === '-h' || token === '--help') {
      help = true;
      continue;
    }
    if (!isFlagLike(token)) throw unexpectedArgument(token, previous);
    if (!token.startsWith('--')) {
      throw new ConfigError(`unknown option ${token}: options are long flags such as --model_name_or_path (only -h is short)`);
    }
    const equals = token.indexOf('=');
    const flag = equals === -1 ? token : token.slice(0, equals);
    const inline = equals === -1 ? undefined : token.slice(equals + 1);
    const key = flag.slice(2).replaceAll('-', '_');

    // Words after the flag up to the next flag; `count` bounds how many it may take.
    const take = (count: number): string[] => {
      if (inline !== undefined) return [inline];
      const values: string[] = [];
      while (values.length < count && i < argv.length && !isFlagLike(argv[i]!)) values.push(argv[i++]!);
      return values;
    };

    if (key === 'config') {
      const values = take(1);
      if (values.length === 0 || values[0] === '') throw new ConfigError(`${flag}: expected a .yaml, .yml or .json file, got no value`);
      if (configPath !== undefined) throw new ConfigError(`${flag} is given twice ("${configPath}" and "${values[0]}"); give one config file`);
      configPath = values[0];
      previous = { flag, values };
      continue;
    }

    let entry = options.get(key);
    let negated = false;
    if (!entry && key.startsWith('no_')) {
      const positive = options.get(key.slice(3));
      if (positive?.spec.type === 'boolean') {
        entry = positive;
        negated = true;
      }
    }
    if (!entry) throw unknownFlag(flag, options);

    let values: string[];
    if (negated) {
      if (inline !== undefined) throw new ConfigError(`${flag} takes no value (it sets ${entry.name} to false), got "${inline}"`);
      values = [];
    } else {
      values = take(entry.spec.type === 'list' ? Infinity : 1);
    }

    const before = seen.get(entry.name);
    if (before) {
      const show = (f: FlagValue) => (f.negated ? f.flag : `${f.flag} ${f.values.join(' ')}`.trim());
      throw new ConfigError(
        `${entry.name} is given twice (${show(before)} and ${show({ option: entry.name, flag, values, negated })}); give it once`,
        { option: entry.name },
      );
    }
    const value: FlagValue = { option: entry.name, flag, values, negated };
    seen.set(entry.name, value);
    flags.push(value);
    previous = { flag, values };
  }
  return { help, configPath, flags };
}

function unexpectedArgument(token: string, previous: { flag: string; values: readonly string[] } | undefined): ConfigError {
  if (previous && previous.values.length > 0) {
    return new ConfigError(`unexpected argument "${token}" after ${previous.flag} ${previous.values.join(' ')} (${previous.flag} takes one value)`);
  }
  const hint = /\.(ya?ml|json)$/i.test(token) ? `; to read options from a file, use --config ${token}` : '; options are given as --name value';
  return new ConfigError(`unexpected argument "${token}"${hint}`);
}

function unknownFlag(flag: string, options: ReadonlyMap<string, OptionEntry>): ConfigError {
  const names = [...new Set([...options.values()].map((entry) => entry.name))].sort();
  const guess = closestName(flag.slice(2), options.keys());
  const valid = ['--config', '--help', ...names.map((n) => `--${n}`)].join(', ');
  return new ConfigError(
    guess ? `unknown option ${flag}; did you mean --${guess}? Valid options: ${valid}` : `unknown option ${flag}; valid options: ${valid}`,
  );
}
