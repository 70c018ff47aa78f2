/**
 * The quick-start model's tokenizer: one token per printable ASCII character and newline,
 * with byte fallback for anything else, as a Hugging Face tokenizer.json (a BPE model without
 * merges). Small and exact for the task's text; any tool that reads tokenizer.json reads it.
 */
const SPECIALS = ['<pad>', '<s>', '</s>'] as const;

export function charTokenizerFiles(modelMaxLength: number): { tokenizer: object; tokenizerConfig: object; vocabSize: number } {
  const vocab: Record<string, number> = {};
  const add = (token: string) => (vocab[token] = Object.keys(vocab).length);
  SPECIALS.forEach(add);
  add('\n');
  for (let c = 32; c < 127; c++) add(String.fromCharCode(c));
  for (let b = 0; b < 256; b++) add(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
  const special = (content: string, id: number) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  const tokenizer = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: SPECIALS.map((t, i) => special(t, i)),
    normalizer: null,
    pre_tokenizer: null,
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } },
    },
    decoder: { type: 'Sequence', decoders: [{ type: 'ByteFallback' }, { type: 'Fuse' }] },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: true, ignore_merges: false, vocab, merges: [] },
  };
  const tokenizerConfig = {
    tokenizer_class: 'PreTrainedTokenizerFast',
    bos_token: '<s>',
    eos_token: '</s>',
    pad_token: '<pad>',
    add_bos_token: true,
    add_eos_token: false,
    model_max_length: modelMaxLength,
  };
  return { tokenizer, tokenizerConfig, vocabSize: Object.keys(vocab).length };
}
