/**
 * `--config train.yaml`: a flat mapping of the same keys as the flags, in YAML (1.2, read with
 * the `yaml` package) or JSON (read like Python's json, so files move to and from LMFlow's
 * `python finetune.py args.json`).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { ConfigError } from './config-error.js';

export interface ConfigFile {
  /** Absolute path of the file. */
  readonly file: string;
  /** Its keys and values as written (`null` means not set). */
  readonly values: Readonly<Record<string, unknown>>;
}

/** Reads a config file; `cwd` resolves a relative path. */
export function readConfigFile(file: string, cwd: string = process.cwd()): ConfigFile {
  const absolute = path.resolve(cwd, file);
  const where = `config file ${absolute}`;
  const extension = path.extname(absolute).toLowerCase();
  if (!['.yaml', '.yml', '.json'].includes(extension)) {
    throw new ConfigError(`${where}: expected a .yaml, .yml or .json file, got "${path.basename(absolute)}"`, { file: absolute });
  }
  let text: string;
  try {
    text = readFileSync(absolute, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a folder' : (error as Error).message;
    throw new ConfigError(`${where}: cannot read it: ${reason}`, { file: absolute });
  }

  let parsed: unknown;
  if (extension === '.json') {
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw new ConfigError(`${where}: invalid JSON: ${(error as Error).message}`, { file: absolute });
    }
  } else {
    // uniqueKeys: a key written twice is an error, never a silent last-one-wins.
    const document = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
    const problem = document.errors[0];
    if (problem) {
      // yaml's message is "<what> at line L, column C:" followed by a code frame; keep the first line.
      const firstLine = problem.message.split('\n')[0]!.replace(/:$/, '');
      throw new ConfigError(`${where}: invalid YAML: ${firstLine}`, { file: absolute });
    }
    parsed = document.toJS();
  }

  // An empty YAML file is an empty mapping.
  if (parsed === null || parsed === undefined) return { file: absolute, values: {} };
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    const kind = Array.isArray(parsed) ? 'a list' : `a ${typeof parsed}`;
    throw new ConfigError(`${where}: expected a mapping of option names to values at the top level, got ${kind}`, { file: absolute });
  }
  return { file: absolute, values: parsed as Record<string, unknown> };
}
