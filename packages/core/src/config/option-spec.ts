/**
 * Option specs: each package or plugin declares the options it reads, in a titled group, with
 * LMFlow's snake_case names. Core only provides the machinery (parsing, files, validation,
 * --help); the parsed config's type is inferred from the specs, so a recipe reads
 * `config.block_size` as a number without casts.
 *
 *   export const dataOptions = defineOptions('Data', {
 *     dataset_path: { type: 'path', required: true, description: 'A folder of LMFlow *.json files, or one file.' },
 *     block_size: { type: 'integer', default: 512, min: 1, description: 'Tokens per training sample.' },
 *   });
 */

/** The item types a list option may hold. */
export type ListItemType = 'string' | 'number' | 'integer';

interface BaseSpec<T> {
  /** One or two sentences for --help. */
  readonly description: string;
  /** Used when neither a flag nor the config file sets the option. */
  readonly default?: T;
  /** Fail before any work when the option is not set (and has no default). */
  readonly required?: boolean;
  /** Other names accepted on the command line and in config files (`lr` for `learning_rate`). */
  readonly aliases?: readonly string[];
  /**
   * Extra check after the type and range checks. Returns undefined when the value is fine, or
   * what was expected ("a power of two"); the error then reads `--x: expected a power of two, got 100`.
   */
  readonly validate?: (value: T) => string | undefined;
}

interface NumericBounds {
  /** Smallest allowed value, inclusive. */
  readonly min?: number;
  /** Largest allowed value, inclusive. */
  readonly max?: number;
  /** Values must be greater than this. */
  readonly exclusiveMin?: number;
  /** Values must be less than this. */
  readonly exclusiveMax?: number;
}

export interface StringOptionSpec extends BaseSpec<string> {
  readonly type: 'string';
}

/**
 * A file or folder. Relative paths, in flags and in config files alike, resolve against the
 * working directory (as in LMFlow, where Python opens them relative to the current directory);
 * the parsed value is absolute.
 */
export interface PathOptionSpec extends BaseSpec<string> {
  readonly type: 'path';
  /** Check before any work that the path exists (and is a file or a folder). */
  readonly mustExist?: 'file' | 'directory' | 'any';
}

export interface NumberOptionSpec extends BaseSpec<number>, NumericBounds {
  readonly type: 'number' | 'integer';
}

/**
 * `--flag`, `--flag true|false|1|0|yes|no` and `--no_flag`. Without a default the option is
 * undefined when not given, so the code that reads it can apply its own default.
 */
export interface BooleanOptionSpec extends BaseSpec<boolean> {
  readonly type: 'boolean';
}

export interface EnumOptionSpec<V extends string = string> extends BaseSpec<V> {
  readonly type: 'enum';
  readonly values: readonly V[];
}

/** Several values after the flag (`--lora_target_modules q_proj v_proj`) or comma-separated. */
export interface ListOptionSpec<I extends ListItemType = ListItemType> extends BaseSpec<ListValue<I>>, NumericBounds {
  readonly type: 'list';
  readonly items: I;
}

export type OptionSpec =
  | StringOptionSpec
  | PathOptionSpec
  | NumberOptionSpec
  | BooleanOptionSpec
  | EnumOptionSpec
  | ListOptionSpec<'string'>
  | ListOptionSpec<'number'>
  | ListOptionSpec<'integer'>;

export type OptionSpecs = Readonly<Record<string, OptionSpec>>;

/** A titled set of options, as --help shows them. */
export interface OptionGroup<S extends OptionSpecs = OptionSpecs> {
  readonly title: string;
  readonly options: S;
}

type ListValue<I extends ListItemType> = I extends 'string' ? string[] : number[];

/** The parsed value of one option. */
export type OptionValue<S> = S extends { type: 'enum'; values: readonly (infer V)[] }
  ? V
  : S extends { type: 'boolean' }
    ? boolean
    : S extends { type: 'string' | 'path' }
      ? string
      : S extends { type: 'number' | 'integer' }
        ? number
        : S extends { type: 'list'; items: infer I extends ListItemType }
          ? ListValue<I>
          : never;

type AlwaysSet<S> = S extends { required: true } ? true : S extends { default: {} } ? true : false;

/** The parsed config of one group: options with a default or `required` are always set. */
export type ConfigOf<S extends OptionSpecs> = {
  -readonly [K in keyof S]: AlwaysSet<S[K]> extends true ? OptionValue<S[K]> : OptionValue<S[K]> | undefined;
};

/** The parsed config of several groups (a command's option groups). */
export type ConfigOfGroups<G extends readonly OptionGroup[]> = G extends readonly [
  OptionGroup<infer S>,
  ...infer Rest extends readonly OptionGroup[],
]
  ? ConfigOf<S> & ConfigOfGroups<Rest>
  : unknown;

const OPTION_NAME = /^[a-z][a-z0-9]*(_[a-z0-9]+)*$/;
/** Flags the machinery itself reads. */
const RESERVED = new Set(['config', 'help']);

/**
 * Declares a group of options. Checks the specs themselves (names, defaults, aliases) so a
 * mistake in a package's declaration fails at load time, not in a user's run.
 */
export function defineOptions<const S extends OptionSpecs>(title: string, options: S): OptionGroup<S> {
  for (const [name, spec] of Object.entries(options)) {
    const where = `option group "${title}": option "${name}"`;
    if (!OPTION_NAME.test(name)) throw new Error(`${where}: names are snake_case (lowercase letters, digits and single underscores), like LMFlow's`);
    if (RESERVED.has(name)) throw new Error(`${where}: "${name}" is reserved for --${name}`);
    for (const alias of spec.aliases ?? []) {
      if (!OPTION_NAME.test(alias)) throw new Error(`${where}: alias "${alias}" is not snake_case`);
      if (RESERVED.has(alias)) throw new Error(`${where}: alias "${alias}" is reserved for --${alias}`);
    }
    if (spec.type === 'enum' && spec.values.length === 0) throw new Error(`${where}: an enum needs at least one value`);
    if (spec.type === 'enum' && spec.default !== undefined && !spec.values.includes(spec.default)) {
      throw new Error(`${where}: default "${spec.default}" is not one of ${spec.values.join(', ')}`);
    }
    if (spec.required && spec.default !== undefined) throw new Error(`${where}: an option with a default cannot be required`);
  }
  return Object.freeze({ title, options: Object.freeze({ ...options }) as S });
}

/** Every option of several groups by name, failing when two groups declare the same name or alias. */
export function indexOptions(groups: readonly OptionGroup[]): Map<string, { name: string; spec: OptionSpec; group: string }> {
  const byName = new Map<string, { name: string; spec: OptionSpec; group: string }>();
  for (const group of groups) {
    for (const [name, spec] of Object.entries(group.options)) {
      for (const key of [name, ...(spec.aliases ?? [])]) {
        const other = byName.get(key);
        if (other) {
          throw new Error(`option "${key}" is declared twice: by "${other.name}" in group "${other.group}" and by "${name}" in group "${group.title}"`);
        }
        byName.set(key, { name, spec, group: group.title });
      }
    }
  }
  return byName;
}
