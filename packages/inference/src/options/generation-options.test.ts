/**
 * Where each option's value comes from (the call, generation_config.json, config.json, the
 * tokenizer, transformers' defaults) and how bad values and files are reported.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTokenizer, type Tokenizer } from '@lmflow/data';
import { resolveGenerationOptions, type GenerationOptions } from './generation-options.js';
import { checkGenerationConfig, loadGenerationConfig, type GenerationConfig } from './generation-config.js';
import { stories260K } from '../test-support/paths.js';

let tokenizer: Tokenizer;
let tmp: string;
beforeAll(async () => {
  tokenizer = await loadTokenizer(stories260K);
  tmp = await mkdtemp(path.join(os.tmpdir(), 'lmflow-genconfig-'));
});
afterAll(() => rm(tmp, { recursive: true, force: true }));

const resolve = (options: GenerationOptions, generationConfig: GenerationConfig = {}, modelConfig: Record<string, unknown> = { model_type: 'llama' }) =>
  resolveGenerationOptions(options, { generationConfig, modelConfig: modelConfig as never, tokenizer, vocabSize: 512, caller: 'generate' });

describe('resolveGenerationOptions', () => {
  it('without options or files: greedy, 256 new tokens, transformers\' sampling defaults, the tokenizer EOS', () => {
    const r = resolve({}, {}, { model_type: 'llama' });
    expect(r).toMatchObject({ maxNewTokens: 256, maxLength: null, doSample: false, temperature: 1, topK: 50, topP: 1, minP: 0, repetitionPenalty: 1, stop: [], eosTokenIds: [2], signal: null });
    expect(Number.isSafeInteger(r.seed)).toBe(true);
  });

  it('generation_config.json fills what the call leaves unset; the call wins', () => {
    const file: GenerationConfig = { do_sample: true, temperature: 0.6, top_k: 20, top_p: 0.9, min_p: 0.05, repetition_penalty: 1.1, max_new_tokens: 64, eos_token_id: [2, 7] };
    expect(resolve({}, file)).toMatchObject({ doSample: true, temperature: 0.6, topK: 20, topP: 0.9, minP: 0.05, repetitionPenalty: 1.1, maxNewTokens: 64, eosTokenIds: [2, 7] });
    expect(resolve({ temperature: 1.3, topK: 0, maxNewTokens: 5, eosTokenIds: [9], doSample: false }, file)).toMatchObject({
      doSample: false,
      temperature: 1.3,
      topK: 0,
      maxNewTokens: 5,
      eosTokenIds: [9],
    });
    // max_length (prompt + new tokens) is kept for the loop to apply per prompt.
    expect(resolve({}, { max_length: 40 })).toMatchObject({ maxNewTokens: null, maxLength: 40 });
  });

  it('a temperature or a cut-off asks for sampling; temperature 0 is greedy', () => {
    expect(resolve({ temperature: 0.8 }).doSample).toBe(true);
    expect(resolve({ topP: 0.5 }).doSample).toBe(true);
    expect(resolve({ temperature: 0.8, doSample: false }).doSample).toBe(false);
    expect(resolve({ temperature: 0 }).doSample).toBe(false);
    expect(resolve({ doSample: true, temperature: 0 }).doSample).toBe(false);
    expect(resolve({}, { do_sample: true, temperature: 0 }).doSample).toBe(false);
  });

  it('EOS: config.json when generation_config.json has none', () => {
    expect(resolve({}, {}, { model_type: 'llama', eos_token_id: [5, 6] }).eosTokenIds).toEqual([5, 6]);
    expect(resolve({}, { eos_token_id: 3 }, { model_type: 'llama', eos_token_id: 5 }).eosTokenIds).toEqual([3]);
  });

  it('refuses bad values and unknown names, naming them', () => {
    expect(() => resolve({ topK: -1 })).toThrow('generate: options.topK is -1, expected an integer >= 0');
    expect(() => resolve({ minP: 2 })).toThrow('generate: options.minP is 2, expected a number in [0, 1]');
    expect(() => resolve({ repetitionPenalty: 0 })).toThrow('generate: options.repetitionPenalty is 0, expected a number > 0');
    expect(() => resolve({ temperature: Number.NaN })).toThrow('generate: options.temperature is NaN, expected a number >= 0');
    expect(() => resolve({ doSample: 'yes' as never })).toThrow('generate: options.doSample is "yes", expected true or false');
    expect(() => resolve({ eosTokenIds: [512] })).toThrow('generate: options.eosTokenIds is [512], expected a list of token ids in [0, 512)');
    expect(() => resolve({ signal: {} as never })).toThrow('generate: options.signal is {}, expected an AbortSignal');
    expect(() => resolve({ top_p: 0.5 } as never)).toThrow('generate: unknown option "top_p"; did you mean "topP"?');
  });
});

describe('generation_config.json', () => {
  it('reads the file, treats null as unset and keeps other fields; no file is {}', async () => {
    await writeFile(path.join(tmp, 'generation_config.json'), JSON.stringify({ eos_token_id: [1, 2], temperature: null, transformers_version: '4.44.0' }));
    expect(await loadGenerationConfig(tmp)).toEqual({ eos_token_id: [1, 2], transformers_version: '4.44.0' });
    expect(await loadGenerationConfig(path.join(tmp, 'nowhere'))).toEqual({});
    expect(await loadGenerationConfig(stories260K)).toEqual({ bos_token_id: 1, eos_token_id: 2, max_length: 512 });
  });

  it('names the file, the field, the value and what was expected', async () => {
    const file = path.join(tmp, 'bad', 'generation_config.json');
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, '{"top_p": 1.5}');
    await expect(loadGenerationConfig(path.dirname(file))).rejects.toThrow(`${file}: "top_p" is 1.5, expected a number in (0, 1]`);
    await writeFile(file, '{"eos_token_id": "</s>"}');
    await expect(loadGenerationConfig(path.dirname(file))).rejects.toThrow(`${file}: "eos_token_id" is "</s>", expected a token id or a list of token ids`);
    await writeFile(file, '{oops');
    await expect(loadGenerationConfig(path.dirname(file))).rejects.toThrow(`${file}: not valid JSON`);
    expect(() => checkGenerationConfig([], 'x.json')).toThrow('x.json: expected a JSON object, got an array');
  });
});
