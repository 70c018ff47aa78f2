/**
 * Incremental detokenization: token ids in, text out as soon as it is final, so that the pieces
 * concatenate to what decoding all the ids at once gives.
 *
 * Two things make "decode the new token alone" wrong: SentencePiece decoders drop the leading
 * space of the first token of a text (so "▁there" alone is "there"), and byte-fallback or
 * byte-level tokens carry parts of a UTF-8 character (<0xE2> alone decodes to U+FFFD). So each
 * step decodes a short window that starts a few tokens back, and emits only what the window adds
 * beyond its already-emitted part, holding everything back while the text ends in an incomplete
 * character (the scheme of Hugging Face's text-generation-inference). @huggingface/tokenizers
 * has no streaming decoder; this is its smallest sound form.
 */
import type { Tokenizer } from '@lmflow/data';

export interface StreamDecoder {
  /** Adds a token; returns the text that became final ('' while a character is incomplete). */
  push(id: number): string;
  /** The text still held back (an incomplete character decodes to U+FFFD, as decode() gives). */
  flush(): string;
}

const REPLACEMENT = '\uFFFD';

/**
 * `context`: ids that come before the decoded ones (the end of the prompt). Their text is never
 * emitted, but it decides spaces at the start: after "Once upon a time," the token "▁there"
 * gives " there", while with no context it gives "there", as decoding it alone does.
 */
export function createStreamDecoder(tokenizer: Tokenizer, context: readonly number[] = []): StreamDecoder {
  const decode = (ids: number[]) => tokenizer.decode(ids, { skipSpecialTokens: true });
  const ids = [...context];
  // ids[prefixOffset, readOffset) decode to prefixText, all of which was emitted (or is context).
  let prefixOffset = 0;
  let readOffset = ids.length;
  let prefixText = decode(ids);
  return {
    push(id) {
      ids.push(id);
      const text = decode(ids.slice(prefixOffset));
      if (text.length <= prefixText.length || text.endsWith(REPLACEMENT)) return '';
      const delta = text.slice(prefixText.length);
      prefixOffset = readOffset;
      readOffset = ids.length;
      prefixText = decode(ids.slice(prefixOffset, readOffset));
      return delta;
    },
    flush() {
      const text = decode(ids.slice(prefixOffset));
      const delta = text.length > prefixText.length ? text.slice(prefixText.length) : '';
      prefixOffset = readOffset = ids.length;
      prefixText = '';
      return delta;
    },
  };
}
