/**
 * `lmflow data inspect`: each sample's tokens with the trained ones marked, so a user sees
 * exactly what the loss is taken on (no peer toolkit shows the mask).
 */
import { IGNORE_INDEX, type Dataset, type Runtime } from '@lmflow/core';
import type { Tokenizer } from '../tokenizer/load-tokenizer.js';
import { SamplePipeline } from '../tokenize/sample-pipeline.js';

export interface InspectOptions {
  conversationTemplate?: string;
  trainOnPrompt?: boolean;
  addEos?: boolean;
  blockSize?: number;
  /** Its transformSample and tokenizeSample hooks are applied, as in training. */
  runtime?: Runtime;
  /** Inspect only the first `limit` instances. @default all */
  limit?: number;
  /** @default console.warn */
  onWarning?: (message: string) => void;
}

export interface InspectedSample {
  inputIds: number[];
  labels: number[];
  /** Each token's text, readable (bytes decoded; a byte of an unfinished character as <0xNN>). */
  tokens: string[];
  /** Where the instance came from. */
  origin: { file: string; index: number };
  /** For paired and scored instances: which side or candidate this is (`chosen`, `candidate 2 (score 0.5)`). */
  part?: string;
}

export function inspectDataset(dataset: Dataset, tokenizer: Tokenizer, options: InspectOptions = {}): InspectedSample[] {
  const pipeline = new SamplePipeline(dataset.type, tokenizer, options);
  const out: InspectedSample[] = [];
  const show = (sample: { inputIds: number[]; labels: number[] }, origin: { file: string; index: number }, part?: string) => {
    out.push({ inputIds: sample.inputIds, labels: sample.labels, tokens: tokenTexts(tokenizer, sample.inputIds), origin, ...(part ? { part } : {}) });
  };
  const count = Math.min(dataset.instances.length, options.limit ?? Infinity);
  for (let i = 0; i < count; i++) {
    const origin = dataset.origins[i]!;
    const result = pipeline.run(dataset.instances[i]!, origin);
    if (result === null) continue;
    if (result.kind === 'sample') show(result.sample, origin);
    else if (result.kind === 'pair') {
      show(result.chosen, origin, 'chosen');
      show(result.rejected, origin, 'rejected');
    } else result.candidates.forEach((c, k) => show(c.sample, origin, `candidate ${k} (score ${c.score})`));
  }
  pipeline.flushNotes();
  return out;
}

/** The text of each token; bytes of a character split across tokens are shown as <0xNN>. */
export function tokenTexts(tokenizer: Tokenizer, ids: readonly number[]): string[] {
  return ids.map((id) => readableBytes(tokenizer.tokenBytes(id)));
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Whole UTF-8 characters as text, any byte that is not part of one as <0xNN>. */
function readableBytes(bytes: Uint8Array): string {
  let out = '';
  let i = 0;
  while (i < bytes.length) {
    const lead = bytes[i]!;
    const width = lead < 0x80 ? 1 : lead >= 0xc2 && lead < 0xe0 ? 2 : lead >= 0xe0 && lead < 0xf0 ? 3 : lead >= 0xf0 && lead < 0xf5 ? 4 : 0;
    if (width > 0 && i + width <= bytes.length) {
      try {
        out += utf8.decode(bytes.subarray(i, i + width));
        i += width;
        continue;
      } catch {
        // not a whole character: fall through to the byte itself
      }
    }
    out += `<0x${lead.toString(16).toUpperCase().padStart(2, '0')}>`;
    i++;
  }
  return out;
}

export interface FormatInspectionOptions {
  /** ANSI colours: trained tokens green, the rest dim. @default false */
  color?: boolean;
}

const TRAINED_OPEN = '\u27E6'; // ⟦
const TRAINED_CLOSE = '\u27E7'; // ⟧

/**
 * One block per sample: a header line, then the tokens separated by `|`, with whitespace made
 * visible (`\n`, `\t`) and trained spans inside ⟦ ⟧ (or green, with color).
 */
export function formatInspection(samples: readonly InspectedSample[], options: FormatInspectionOptions = {}): string {
  const color = options.color ?? false;
  const blocks = samples.map((sample, i) => {
    const trained = sample.labels.filter((l) => l !== IGNORE_INDEX).length;
    const part = sample.part ? ` ${sample.part}` : '';
    const header = `sample ${i} (${sample.origin.file} instance ${sample.origin.index}${part}): ${sample.inputIds.length} tokens, ${trained} trained`;
    let body = '';
    let inSpan = false;
    sample.tokens.forEach((token, t) => {
      const learned = sample.labels[t] !== IGNORE_INDEX;
      const text = visible(token);
      if (color) {
        body += (t > 0 ? '\x1b[2m|\x1b[0m' : '') + (learned ? `\x1b[32;1m${text}\x1b[0m` : `\x1b[2m${text}\x1b[0m`);
        return;
      }
      if (learned && !inSpan) body += (t > 0 ? '|' : '') + TRAINED_OPEN;
      else if (!learned && inSpan) body += TRAINED_CLOSE + '|';
      else if (t > 0) body += '|';
      body += text;
      inSpan = learned;
    });
    if (inSpan && !color) body += TRAINED_CLOSE;
    return `${header}\n${body}`;
  });
  const legend = color ? 'trained tokens in green; tokens separated by |' : `trained tokens inside ${TRAINED_OPEN} ${TRAINED_CLOSE} (label = token); the rest have label ${IGNORE_INDEX}; tokens separated by |`;
  return `${legend}\n\n${blocks.join('\n\n')}\n`;
}

function visible(text: string): string {
  return text.replaceAll('\\', '\\\\').replaceAll('\n', '\\n').replaceAll('\r', '\\r').replaceAll('\t', '\\t');
}
