/**
 * Token ids of a rendered chat with the tokens that overlap given character spans marked, the
 * way transformers builds its assistant mask: encode the whole text, then take every token from
 * the one holding a span's first character to the one holding its last.
 *
 * @huggingface/tokenizers gives no offsets, so they are recovered by laying each token's bytes
 * (Tokenizer.tokenBytes) along the UTF-8 text. A SentencePiece tokenizer may add a space that is
 * not in the text at the start of a section (Llama's "▁" prefix); a token whose bytes match once
 * that space is dropped is accepted. If the tokens do not spell the text (a normalizer changed
 * it), each span and each gap is encoded on its own instead: the learned tokens are then exactly
 * those of the spans, which is how the presets encode too.
 */
import type { Tokenizer } from '../tokenizer/load-tokenizer.js';
import type { EncodedSegment } from './conversation-parts.js';

export function encodeWithSpans(tokenizer: Tokenizer, text: string, spans: readonly [number, number][]): EncodedSegment[] {
  const ids = tokenizer.encode(text, { addSpecialTokens: false });
  const offsets = tokenCharOffsets(tokenizer, text, ids);
  if (offsets === null) return encodePiecewise(tokenizer, text, spans);
  const learned = ids.map((_, k) => {
    const [start, end] = offsets[k]!;
    return spans.some(([a, b]) => (end > start ? end > a && start < b : start >= a && start < b));
  });
  const segments: EncodedSegment[] = [];
  ids.forEach((id, k) => {
    const last = segments[segments.length - 1];
    if (last && last.learned === learned[k]) last.ids.push(id);
    else segments.push({ ids: [id], learned: learned[k]! });
  });
  return segments;
}

/** [start, end) in UTF-16 units of `text` for each token, or null when the tokens do not spell the text. */
export function tokenCharOffsets(tokenizer: Tokenizer, text: string, ids: readonly number[]): [number, number][] | null {
  const bytes = new TextEncoder().encode(text);
  // For byte b: the UTF-16 range [charStart[b], charEnd[b]) of the character it belongs to.
  const charStart = new Int32Array(bytes.length + 1);
  const charEnd = new Int32Array(bytes.length + 1);
  let b = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.codePointAt(i)!;
    const width = code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
    const units = code >= 0x10000 ? 2 : 1;
    for (let k = 0; k < width; k++, b++) {
      charStart[b] = i;
      charEnd[b] = i + units;
    }
    i += units - 1;
  }
  charStart[bytes.length] = text.length;

  const offsets: [number, number][] = [];
  let cursor = 0;
  for (const id of ids) {
    const piece = tokenizer.tokenBytes(id);
    let skip = 0;
    if (!matchesAt(bytes, cursor, piece, 0)) {
      if (piece[0] === 0x20 && matchesAt(bytes, cursor, piece, 1)) skip = 1;
      else return null;
    }
    const end = cursor + piece.length - skip;
    offsets.push([charStart[cursor]!, end === cursor ? charStart[cursor]! : charEnd[end - 1]!]);
    cursor = end;
  }
  return cursor === bytes.length ? offsets : null;
}

function matchesAt(text: Uint8Array, at: number, piece: Uint8Array, from: number): boolean {
  if (at + piece.length - from > text.length) return false;
  for (let i = from; i < piece.length; i++) if (text[at + i - from] !== piece[i]) return false;
  return true;
}

function encodePiecewise(tokenizer: Tokenizer, text: string, spans: readonly [number, number][]): EncodedSegment[] {
  const segments: EncodedSegment[] = [];
  let at = 0;
  const push = (from: number, to: number, learned: boolean) => {
    if (to > from) segments.push({ ids: tokenizer.encode(text.slice(from, to), { addSpecialTokens: false }), learned });
  };
  for (const [a, b] of spans) {
    push(at, a, false);
    push(a, b, true);
    at = b;
  }
  push(at, text.length, false);
  return segments;
}
