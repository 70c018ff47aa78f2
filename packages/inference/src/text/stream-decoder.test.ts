/**
 * Streaming detokenization with real tokenizers: Llama-2 (SentencePiece with byte fallback, so
 * an emoji arrives as four <0xNN> tokens) and GPT-2 (byte-level: a CJK character spans tokens).
 * The deltas must concatenate to decode(all ids) and never end inside a character.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { loadTokenizer, type Tokenizer } from '@lmflow/data';
import { createStreamDecoder } from './stream-decoder.js';
import { gpt2Tokenizer, llama2Tokenizer } from '../test-support/paths.js';

const TEXTS = [
  'Hello 😀 世界! café — ok',
  '🦙🦙 llamas: 北京欢迎你, Ünïcödé, 👩‍👩‍👧 family, math ∑∫√ and 日本語のテキスト。',
  '  leading spaces\nand\ttabs 🎉\n\n',
];

let llama: Tokenizer;
let gpt2: Tokenizer;
beforeAll(async () => {
  [llama, gpt2] = await Promise.all([loadTokenizer(llama2Tokenizer), loadTokenizer(gpt2Tokenizer)]);
});

/** A string that does not start or end inside a character (no lone surrogate, no replacement). */
function expectWholeCharacters(piece: string, where: string): void {
  expect(piece, where).not.toMatch(/^[\uDC00-\uDFFF]|[\uD800-\uDBFF]$/);
  expect(piece.includes('\uFFFD'), `${where}: ${JSON.stringify(piece)}`).toBe(false);
}

function streamed(tokenizer: Tokenizer, ids: number[], context: number[] = []): string[] {
  const decoder = createStreamDecoder(tokenizer, context);
  const pieces = ids.map((id) => decoder.push(id));
  pieces.push(decoder.flush());
  return pieces;
}

describe('createStreamDecoder', () => {
  it('Llama-2: byte-fallback emoji and CJK arrive whole, and the pieces equal decode(all)', () => {
    for (const text of TEXTS) {
      const ids = llama.encode(text, { addSpecialTokens: false });
      // The emoji really is split into byte tokens.
      if (text.startsWith('Hello')) expect(ids.map((id) => llama.idToToken(id))).toContain('<0xF0>');
      const pieces = streamed(llama, ids);
      pieces.forEach((piece, i) => expectWholeCharacters(piece, `piece ${i}`));
      expect(pieces.join('')).toBe(llama.decode(ids, { skipSpecialTokens: true }));
      // Nothing of the emoji shows before its last byte: the piece at the first byte token is empty.
      if (text.startsWith('Hello')) expect(pieces.slice(2, 6)).toEqual(['', '', '', '😀']);
    }
  });

  it('GPT-2 (byte-level BPE): multi-token characters arrive whole, the pieces equal decode(all)', () => {
    for (const text of TEXTS) {
      const ids = gpt2.encode(text, { addSpecialTokens: false });
      expect(ids.length).toBeGreaterThan(0);
      const pieces = streamed(gpt2, ids);
      pieces.forEach((piece, i) => expectWholeCharacters(piece, `piece ${i}`));
      expect(pieces.join('')).toBe(gpt2.decode(ids));
    }
  });

  it('with the end of the prompt as context, a continuation keeps its leading space (SentencePiece)', () => {
    const prompt = llama.encode('Once upon a time,');
    const continuation = llama.encode(' there was a 🐱 named 小明.', { addSpecialTokens: false }).slice(1); // drop the lone "▁" the normalizer adds
    const all = [...prompt, ...continuation];
    const expected = llama.decode(all, { skipSpecialTokens: true }).slice(llama.decode(prompt, { skipSpecialTokens: true }).length);
    expect(expected.startsWith(' there')).toBe(true);
    const pieces = streamed(llama, continuation, prompt.slice(-6));
    expect(pieces.join('')).toBe(expected);
    expect(pieces[0]).toBe(' there');
    // Without context the first token's space is dropped, as decode() of the ids alone does.
    expect(streamed(llama, continuation).join('')).toBe(llama.decode(continuation));
  });

  it('skips special tokens and flushes an unfinished character as decode() shows it', () => {
    const ids = [llama.bosTokenId!, ...llama.encode('a 😀', { addSpecialTokens: false })];
    const cut = ids.slice(0, -2); // the emoji's last two bytes never come
    const pieces = streamed(llama, cut);
    expect(pieces.slice(0, -1).join('')).toBe('a ');
    expect(pieces.at(-1)).toBe(llama.decode(cut, { skipSpecialTokens: true }).slice('a '.length));
    expect(pieces.at(-1)).toContain('\uFFFD');
  });
});
