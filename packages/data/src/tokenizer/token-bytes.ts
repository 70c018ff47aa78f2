/**
 * The bytes of text each vocabulary entry stands for. @huggingface/tokenizers decodes whole id
 * sequences but exposes neither per-token bytes nor offsets, which the inspector (showing each
 * token readably) and the chat-template label mask (mapping character spans to tokens) need.
 * Two vocabulary spellings cover the Hugging Face tokenizers we read:
 * - byte-level BPE (GPT-2, Llama 3, Qwen): each byte is one printable character of GPT-2's
 *   `bytes_to_unicode` table (a fixed table, rebuilt here in a few lines);
 * - SentencePiece (Llama 2, Mistral, Gemma): `▁` is a space and `<0xNN>` a fallback byte.
 * Added tokens (`<s>`, `<|im_end|>`) stand for their content.
 */
const encoder = new TextEncoder();

/** GPT-2's byte -> printable character table, inverted: character code -> byte. */
function byteLevelDecoder(): Map<number, number> {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const map = new Map<number, number>();
  for (const b of printable) map.set(b, b);
  let next = 0;
  for (let b = 0; b < 256; b++) {
    if (!printable.includes(b)) map.set(256 + next++, b);
  }
  return map;
}

export type VocabularyStyle = 'byte-level' | 'sentencepiece' | 'plain';

/** How tokenizer.json spells its vocabulary, from its decoder and pre-tokenizer. */
export function vocabularyStyle(tokenizerJson: Record<string, unknown>): VocabularyStyle {
  const types = new Set<string>();
  const collect = (node: unknown): void => {
    if (!node || typeof node !== 'object') return;
    const n = node as Record<string, unknown>;
    if (typeof n.type === 'string') types.add(n.type);
    for (const key of ['decoders', 'pretokenizers', 'normalizers']) {
      if (Array.isArray(n[key])) (n[key] as unknown[]).forEach(collect);
    }
  };
  collect(tokenizerJson.decoder);
  collect(tokenizerJson.pre_tokenizer);
  if (types.has('ByteLevel')) return 'byte-level';
  const model = tokenizerJson.model as Record<string, unknown> | undefined;
  if (types.has('Metaspace') || types.has('ByteFallback') || model?.byte_fallback === true) return 'sentencepiece';
  return 'plain';
}

export function makeTokenBytes(style: VocabularyStyle): (piece: string) => Uint8Array {
  if (style === 'byte-level') {
    const table = byteLevelDecoder();
    return (piece) => {
      const out = new Uint8Array(piece.length);
      let n = 0;
      for (const ch of piece) {
        const b = table.get(ch.codePointAt(0)!);
        if (b === undefined) return encoder.encode(piece); // not a byte-level piece
        out[n++] = b;
      }
      return out.subarray(0, n);
    };
  }
  if (style === 'sentencepiece') {
    return (piece) => {
      const hex = /^<0x([0-9A-Fa-f]{2})>$/.exec(piece);
      if (hex) return Uint8Array.of(parseInt(hex[1]!, 16));
      return encoder.encode(piece.replaceAll('\u2581', ' '));
    };
  }
  return (piece) => encoder.encode(piece);
}
