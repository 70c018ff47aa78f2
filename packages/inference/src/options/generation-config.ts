/**
 * generation_config.json: the decoding defaults a Hugging Face model folder ships (transformers'
 * GenerationConfig). Only the fields generation reads are typed; every one is checked, so a bad
 * file fails with its path, the field, the value and what was expected.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { GenerationError } from '../errors.js';

export interface GenerationConfig {
  max_new_tokens?: number;
  /** Prompt plus generated tokens (transformers' meaning). */
  max_length?: number;
  do_sample?: boolean;
  temperature?: number;
  top_k?: number;
  top_p?: number;
  min_p?: number;
  repetition_penalty?: number;
  /** One id or several (chat models often list their end-of-turn tokens here). */
  eos_token_id?: number | number[];
  bos_token_id?: number;
  pad_token_id?: number;
  /** Other fields are kept as read (transformers has many more). */
  [field: string]: unknown;
}

export const GENERATION_CONFIG_FILE = 'generation_config.json';

/**
 * Reads `<dir>/generation_config.json`; an absent file gives `{}` (transformers then derives the
 * defaults from config.json, which generation does for EOS too).
 */
export async function loadGenerationConfig(dir: string): Promise<GenerationConfig> {
  const file = path.join(dir, GENERATION_CONFIG_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new GenerationError(`${file}: cannot read: ${(error as Error).message}`, { cause: error });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new GenerationError(`${file}: not valid JSON (${(error as Error).message})`, { cause: error });
  }
  return checkGenerationConfig(json, file);
}

type Check = (value: unknown) => string | undefined;

const integerAtLeast = (min: number): Check => (v) => (Number.isSafeInteger(v) && (v as number) >= min ? undefined : `an integer >= ${min}`);
const numberIn = (what: string, ok: (v: number) => boolean): Check => (v) => (typeof v === 'number' && Number.isFinite(v) && ok(v) ? undefined : what);

const CHECKS: Record<string, Check> = {
  max_new_tokens: integerAtLeast(1),
  max_length: integerAtLeast(1),
  do_sample: (v) => (typeof v === 'boolean' ? undefined : 'true or false'),
  temperature: numberIn('a number >= 0', (v) => v >= 0),
  top_k: integerAtLeast(0),
  top_p: numberIn('a number in (0, 1]', (v) => v > 0 && v <= 1),
  min_p: numberIn('a number in [0, 1]', (v) => v >= 0 && v <= 1),
  repetition_penalty: numberIn('a number > 0', (v) => v > 0),
  eos_token_id: (v) =>
    (Number.isSafeInteger(v) && (v as number) >= 0) || (Array.isArray(v) && v.every((id) => Number.isSafeInteger(id) && id >= 0))
      ? undefined
      : 'a token id or a list of token ids',
  bos_token_id: integerAtLeast(0),
  pad_token_id: integerAtLeast(0),
};

/** Checks a parsed generation config; `source` names it in errors. null fields count as unset. */
export function checkGenerationConfig(json: unknown, source: string): GenerationConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new GenerationError(`${source}: expected a JSON object, got ${Array.isArray(json) ? 'an array' : JSON.stringify(json)}`);
  }
  const config: GenerationConfig = {};
  for (const [field, value] of Object.entries(json)) {
    if (value === null) continue;
    const check = CHECKS[field];
    const expected = check?.(value);
    if (expected) throw new GenerationError(`${source}: "${field}" is ${JSON.stringify(value)}, expected ${expected}`);
    config[field] = value;
  }
  return config;
}
