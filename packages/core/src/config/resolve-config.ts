/**
 * The one entry point a command or recipe calls before doing any work: flags, an optional
 * `--config` file and code-given values, layered and validated against the option groups.
 *
 * Precedence, lowest first: the specs' defaults, `values` (set by code), the `--config` file,
 * then flags. Relative paths resolve against `cwd` wherever they were written (LMFlow's rule:
 * Python opens them relative to the working directory, config files included).
 */
import path from 'node:path';
import { coerceFileValue, coerceFlag, type CoerceContext } from './coerce-value.js';
import { ConfigError, type ValueSource } from './config-error.js';
import { closestName } from './closest-name.js';
import { indexOptions, type ConfigOfGroups, type OptionGroup } from './option-spec.js';
import { parseArgv, type OptionEntry } from './parse-argv.js';
import { readConfigFile } from './read-config-file.js';

export interface ResolveConfigOptions {
  /**
   * Command-line words after the command name. `-h`/`--help` are the caller's to handle
   * (check `wantsHelp(argv)` first); here they are skipped.
   */
  readonly argv?: readonly string[];
  /** Values set by code, below the config file and flags (keys as in config files). */
  readonly values?: Readonly<Record<string, unknown>>;
  /** Folder relative paths resolve against; default process.cwd(). */
  readonly cwd?: string;
}

export function resolveConfig<const G extends readonly OptionGroup[]>(groups: G, options: ResolveConfigOptions = {}): ConfigOfGroups<G> {
  const index = indexOptions(groups);
  const context: CoerceContext = { cwd: options.cwd ?? process.cwd() };
  // Parse flags first: a typo in a flag is reported before the config file is even read.
  const argv = parseArgv(options.argv ?? [], index);

  const config: Record<string, unknown> = {};
  for (const { name, spec } of index.values()) {
    if (spec.type === 'path' && spec.default !== undefined) config[name] = path.resolve(context.cwd, spec.default);
    else config[name] = Array.isArray(spec.default) ? [...spec.default] : spec.default;
  }
  if (options.values) applyRecord(config, options.values, index, context, (key) => ({ kind: 'object', key }));
  if (argv.configPath !== undefined) {
    const { file, values } = readConfigFile(argv.configPath, context.cwd);
    applyRecord(config, values, index, context, (key) => ({ kind: 'file', file, key }));
  }
  for (const flag of argv.flags) {
    const { spec } = index.get(flag.option)!;
    config[flag.option] = coerceFlag(spec, flag.values, flag.negated, { kind: 'flag', flag: flag.flag }, context);
  }

  const missing = [...new Set([...index.values()].filter((e) => e.spec.required && config[e.name] === undefined).map((e) => e.name))];
  if (missing.length === 1) {
    throw new ConfigError(`missing required option --${missing[0]}; set it with --${missing[0]} or in a --config file`, { option: missing[0]! });
  }
  if (missing.length > 1) {
    throw new ConfigError(`missing required options ${missing.map((m) => `--${m}`).join(', ')}; set them as flags or in a --config file`, { option: missing[0]! });
  }
  return config as ConfigOfGroups<G>;
}

/** One layer of keyed values (a config file, or code's values) onto the config. */
function applyRecord(
  config: Record<string, unknown>,
  record: Readonly<Record<string, unknown>>,
  index: ReadonlyMap<string, OptionEntry>,
  context: CoerceContext,
  sourceOf: (key: string) => ValueSource,
): void {
  const setBy = new Map<string, string>();
  for (const [written, value] of Object.entries(record)) {
    const source = sourceOf(written);
    const where = source.kind === 'file' ? `config file ${source.file}: ` : '';
    const key = written.replaceAll('-', '_');
    if (key === 'config' && source.kind === 'file') {
      throw new ConfigError(`${where}key "config": a config file cannot name another config file`, { file: source.file });
    }
    const entry = index.get(key);
    if (!entry) throw unknownKey(where, written, index, source.kind === 'file' ? source.file : undefined);
    const earlier = setBy.get(entry.name);
    if (earlier !== undefined) {
      throw new ConfigError(`${where}keys "${earlier}" and "${written}" both set ${entry.name}; keep one`, { option: entry.name, ...(source.kind === 'file' ? { file: source.file } : {}) });
    }
    setBy.set(entry.name, written);
    // null (or an empty YAML value) leaves the option as it was: its default, or a lower layer.
    if (value === null || value === undefined) continue;
    config[entry.name] = coerceFileValue(entry.spec, value, source, context);
  }
}

function unknownKey(where: string, key: string, index: ReadonlyMap<string, OptionEntry>, file: string | undefined): ConfigError {
  const names = [...new Set([...index.values()].map((entry) => entry.name))].sort();
  const guess = closestName(key, index.keys());
  const valid = names.join(', ');
  const message = guess
    ? `${where}unknown key "${key}"; did you mean "${guess}"? Valid keys: ${valid}`
    : `${where}unknown key "${key}"; valid keys: ${valid}`;
  return new ConfigError(message, file === undefined ? {} : { file });
}
