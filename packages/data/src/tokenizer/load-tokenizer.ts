/**
 * Hugging Face tokenizers from a folder: `tokenizer.json` (the fast-tokenizer file, run by
 * @huggingface/tokenizers) and `tokenizer_config.json` (special tokens, add_bos_token /
 * add_eos_token, chat_template, model_max_length), with `special_tokens_map.json` as the older
 * place for special tokens.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { makeTokenBytes, vocabularyStyle } from './token-bytes.js';

export interface EncodeOptions {
  /** Add the tokenizer's special tokens (BOS per add_bos_token, EOS per add_eos_token). @default true */
  addSpecialTokens?: boolean;
}

export interface DecodeOptions {
  /** @default false */
  skipSpecialTokens?: boolean;
}

export interface Tokenizer {
  /** The folder it was read from. */
  readonly path: string;
  /** Number of ids (vocabulary and added tokens). */
  readonly vocabSize: number;
  readonly bosToken: string | null;
  readonly bosTokenId: number | null;
  readonly eosToken: string | null;
  readonly eosTokenId: number | null;
  readonly padToken: string | null;
  readonly padTokenId: number | null;
  readonly unkToken: string | null;
  readonly unkTokenId: number | null;
  /** Whether encoding with special tokens puts BOS first / EOS last. */
  readonly addBosToken: boolean;
  readonly addEosToken: boolean;
  /** The Jinja chat template of tokenizer_config.json (its "default" one when it has several). */
  readonly chatTemplate: string | null;
  /** tokenizer_config.json's model_max_length; null when absent or a "no limit" sentinel. */
  readonly modelMaxLength: number | null;
  /** Special tokens under the names chat templates use: bos_token, eos_token, ... */
  readonly specialTokensMap: Readonly<Record<string, string | string[]>>;
  encode(text: string, options?: EncodeOptions): number[];
  decode(ids: readonly number[], options?: DecodeOptions): string;
  idToToken(id: number): string | undefined;
  tokenToId(token: string): number | undefined;
  /** Whether the id is an added special token (`<s>`, `<|im_end|>`). */
  isSpecial(id: number): boolean;
  /** The bytes of text the token stands for (an added token: its content). */
  tokenBytes(id: number): Uint8Array;
}

export class TokenizerError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TokenizerError';
  }
}

export async function loadTokenizer(path: string): Promise<Tokenizer> {
  const jsonFile = join(path, 'tokenizer.json');
  const tokenizerJson = await readJsonFile(jsonFile, true);
  if (tokenizerJson === undefined) {
    const hasModel = (await readJsonFile(join(path, 'tokenizer_config.json'), false).catch(() => undefined)) !== undefined;
    throw new TokenizerError(
      `tokenizer ${path}: no tokenizer.json${hasModel ? ' (only tokenizer_config.json)' : ''}; ` +
        'LMFlow.ts reads Hugging Face fast tokenizers. A slow one (tokenizer.model) converts with transformers: ' +
        'AutoTokenizer.from_pretrained(path).save_pretrained(path)',
    );
  }
  const config = ((await readJsonFile(join(path, 'tokenizer_config.json'), false)) ?? {}) as Record<string, unknown>;
  const specialMap = ((await readJsonFile(join(path, 'special_tokens_map.json'), false)) ?? {}) as Record<string, unknown>;
  return createTokenizer(path, tokenizerJson as Record<string, unknown>, config, specialMap);
}

/** A tokenizer from already-parsed files (tests, plugins that ship a tokenizer in memory). */
export function createTokenizer(path: string, tokenizerJson: Record<string, unknown>, config: Record<string, unknown>, specialMap: Record<string, unknown> = {}): Tokenizer {
  let hf: HfTokenizer;
  try {
    hf = new HfTokenizer(tokenizerJson, config);
  } catch (error) {
    throw new TokenizerError(`tokenizer ${path}: tokenizer.json could not be read: ${(error as Error).message}`, { cause: error });
  }
  const configFile = join(path, 'tokenizer_config.json');
  const special = (name: string): { token: string | null; id: number | null } => {
    const token = tokenContent(config[name]) ?? tokenContent(specialMap[name]);
    if (token === null) return { token: null, id: null };
    const id = hf.token_to_id(token);
    if (id === undefined) throw new TokenizerError(`tokenizer ${configFile}: "${name}" is ${JSON.stringify(token)}, which is not in the vocabulary of tokenizer.json`);
    return { token, id };
  };
  const bos = special('bos_token');
  const eos = special('eos_token');
  const pad = special('pad_token');
  const unk = special('unk_token');

  // What the post-processor adds around a text; tokenizer_config's add_bos_token / add_eos_token
  // override it, as transformers does when it rebuilds the post-processor from them.
  const probe = hf.encode('', { add_special_tokens: true }).ids;
  const postAddsBos = bos.id !== null && probe[0] === bos.id;
  const postAddsEos = eos.id !== null && probe.length > 0 && probe[probe.length - 1] === eos.id && !(postAddsBos && probe.length === 1 && bos.id === eos.id);
  const addBosToken = bos.id !== null && (typeof config.add_bos_token === 'boolean' ? config.add_bos_token : postAddsBos);
  const addEosToken = eos.id !== null && (typeof config.add_eos_token === 'boolean' ? config.add_eos_token : postAddsEos);

  const added = hf.get_added_tokens_decoder();
  const specialIds = new Set<number>();
  for (const [id, token] of added) if (token.special) specialIds.add(id);
  const vocabSize = hf.get_vocab(true).size;
  const bytesOfPiece = makeTokenBytes(vocabularyStyle(tokenizerJson));
  const encoder = new TextEncoder();
  const bytesCache = new Map<number, Uint8Array>();

  const specialTokensMap: Record<string, string | string[]> = {};
  for (const [name, value] of [['bos_token', bos.token], ['eos_token', eos.token], ['pad_token', pad.token], ['unk_token', unk.token]] as const) {
    if (value !== null) specialTokensMap[name] = value;
  }
  const additional = config.additional_special_tokens ?? specialMap.additional_special_tokens;
  if (Array.isArray(additional)) specialTokensMap.additional_special_tokens = additional.map(tokenContent).filter((t): t is string => t !== null);

  return {
    path,
    vocabSize,
    bosToken: bos.token,
    bosTokenId: bos.id,
    eosToken: eos.token,
    eosTokenId: eos.id,
    padToken: pad.token,
    padTokenId: pad.id,
    unkToken: unk.token,
    unkTokenId: unk.id,
    addBosToken,
    addEosToken,
    chatTemplate: chatTemplateOf(config.chat_template, configFile),
    modelMaxLength: typeof config.model_max_length === 'number' && config.model_max_length > 0 && config.model_max_length < 1e9 ? config.model_max_length : null,
    specialTokensMap,
    encode(text, options = {}) {
      const ids = hf.encode(text, { add_special_tokens: false }).ids;
      if (options.addSpecialTokens === false) return ids;
      if (addBosToken) ids.unshift(bos.id!);
      if (addEosToken) ids.push(eos.id!);
      return ids;
    },
    decode(ids, options = {}) {
      if (ids.length === 0) return '';
      return hf.decode([...ids], { skip_special_tokens: options.skipSpecialTokens ?? false, clean_up_tokenization_spaces: false });
    },
    idToToken: (id) => hf.id_to_token(id),
    tokenToId: (token) => hf.token_to_id(token),
    isSpecial: (id) => specialIds.has(id),
    tokenBytes(id) {
      let bytes = bytesCache.get(id);
      if (bytes === undefined) {
        const piece = hf.id_to_token(id);
        if (piece === undefined) throw new TokenizerError(`tokenizer ${path}: id ${id} is not in the vocabulary (0..${vocabSize - 1})`);
        bytes = added.has(id) ? encoder.encode(piece) : bytesOfPiece(piece);
        bytesCache.set(id, bytes);
      }
      return bytes;
    },
  };
}

async function readJsonFile(file: string, required: boolean): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || (!required && code === 'ENOTDIR')) return undefined;
    if (code === 'ENOTDIR') throw new TokenizerError(`tokenizer ${file}: the tokenizer path must be a folder holding tokenizer.json`, { cause: error });
    throw new TokenizerError(`tokenizer ${file}: cannot read: ${(error as Error).message}`, { cause: error });
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new TokenizerError(`tokenizer ${file}: invalid JSON: ${(error as Error).message}`, { cause: error });
  }
}

/** A special token as tokenizer_config.json writes it: a string, or an AddedToken object. */
function tokenContent(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && typeof (value as { content?: unknown }).content === 'string') return (value as { content: string }).content;
  return null;
}

function chatTemplateOf(value: unknown, file: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string') return value;
  // Several named templates: transformers uses "default" unless asked for another.
  if (Array.isArray(value)) {
    const named = value.find((t) => t && typeof t === 'object' && (t as { name?: unknown }).name === 'default');
    if (named && typeof (named as { template?: unknown }).template === 'string') return (named as { template: string }).template;
    throw new TokenizerError(`tokenizer ${file}: "chat_template" is a list without a "default" template (names: ${value.map((t) => JSON.stringify((t as { name?: unknown })?.name)).join(', ')})`);
  }
  throw new TokenizerError(`tokenizer ${file}: "chat_template" is ${typeof value}, expected a string`);
}
