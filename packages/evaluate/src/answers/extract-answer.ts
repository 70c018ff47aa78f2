/**
 * Reading the answer out of a model's free text (and out of gold outputs, with the same
 * rules, so "B", "B. Aspirin" and "The answer is (B)" all compare as "B"). Written by hand:
 * the phrasings are this project's choice, tested on a table of real-looking outputs.
 *
 * Multiple choice (A-D, or A-E): an explicit statement wins ("The answer is (B)", "Answer: B",
 * "the correct option is C"; the last "answer" statement, else the last "option"/"choice" one,
 * because reasoning comes before the conclusion), then a leading letter ("B.", "(B)", "B)",
 * "B" alone), then a single bracketed letter anywhere ("... so (C)."). A bare "A" followed by
 * a lowercase word is the article, not an option ("A deficiency of ...").
 * pubmedqa: "answer is maybe" / "Answer: no", then a leading yes/no/maybe (not "yes or no"), then
 * the one of the three that the text uses alone. gsm8k: "#### 72", then "the answer is 72", then the last
 * number; commas between digits and "$" are removed and the number is written canonically
 * ("1,000.00" -> "1000"). text: SQuAD's normalisation (lowercase, no punctuation, no articles,
 * single spaces).
 */
import { CHOICE_LETTERS, type AnswerType } from './answer-types.js';

/** The answer, normalised for comparison, or null when the text holds none. */
export function extractAnswer(text: string, type: AnswerType): string | null {
  const letters = CHOICE_LETTERS[type];
  if (letters) return extractChoice(text, letters);
  if (type === 'pubmedqa') return extractYesNoMaybe(text);
  if (type === 'gsm8k') return extractNumber(text);
  const normalized = normalizeText(text);
  return normalized === '' ? null : normalized;
}

/** Whether an extracted prediction matches the extracted gold answer (both already normalised). */
export function answersMatch(predicted: string | null, gold: string): boolean {
  return predicted !== null && predicted === gold;
}

/** SQuAD's answer normalisation: lowercase, punctuation and articles removed, whitespace collapsed. */
export function normalizeText(text: string): string {
  return text
    .normalize('NFKC')
    .toLowerCase()
    .replace(/[\p{P}\p{S}]/gu, ' ')
    .replace(/\b(a|an|the)\b/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

const caseless = (word: string) => [...word].map((c) => `[${c.toLowerCase()}${c.toUpperCase()}]`).join('');
const LEADING_NOISE = /^[\s*_"'`>#]+/;

function extractChoice(text: string, letters: string): string | null {
  const L = `[${letters}]`;
  // The letter as an option: bracketed, or bare and not part of a word.
  const option = `(?:\\((${L})\\)|\\[(${L})\\]|(${L})(?![A-Za-z0-9]))`;
  const linking = `(?:\\s+(?:${caseless('is')}|${caseless('would be')}|${caseless('should be')}|${caseless('will be')}))?[\\s:*=\\-]*(?:(?:${caseless('option')}|${caseless('choice')})\\s*)?`;
  const statement = (keywords: string) => new RegExp(`\\b(?:${keywords})\\b${linking}${option}`, 'g');
  const pick = (match: RegExpExecArray): string | null => {
    const bracketed = match[1] ?? match[2];
    if (bracketed) return bracketed;
    const bare = match[3]!;
    const rest = text.slice(match.index + match[0].length);
    return bare === 'A' && /^\s+[a-z]/.test(rest) ? null : bare;
  };
  const lastOf = (re: RegExp): string | null => {
    let found: string | null = null;
    for (const match of text.matchAll(re)) found = pick(match as RegExpExecArray) ?? found;
    return found;
  };
  const stated = lastOf(statement(caseless('answer'))) ?? lastOf(statement(`${caseless('option')}|${caseless('choice')}`));
  if (stated) return stated;

  const trimmed = text.replace(LEADING_NOISE, '');
  const leading = new RegExp(`^(?:\\((${L})\\)|\\[(${L})\\]|(${L})(?:[.):,\\]]|\\s*$|\\s*\\n))`).exec(trimmed);
  if (leading) return leading[1] ?? leading[2] ?? leading[3]!;

  const bracketed = new Set([...text.matchAll(new RegExp(`\\((${L})\\)`, 'g'))].map((m) => m[1]!));
  return bracketed.size === 1 ? [...bracketed][0]! : null;
}

function extractYesNoMaybe(text: string): string | null {
  const word = '(yes|no|maybe)\\b';
  let stated: string | null = null;
  for (const match of text.matchAll(new RegExp(`\\banswer\\b(?:\\s+(?:is|would be|should be))?[\\s:*=\\-"']*${word}`, 'gi'))) stated = match[1]!;
  if (stated) return stated.toLowerCase();
  const leading = new RegExp(`^${word}(?!\\s+or\\b)`, 'i').exec(text.replace(LEADING_NOISE, ''));
  if (leading) return leading[1]!.toLowerCase();
  const used = new Set([...text.matchAll(new RegExp(`\\b${word}`, 'gi'))].map((m) => m[1]!.toLowerCase()));
  return used.size === 1 ? [...used][0]! : null;
}

const NUMBER = '-?\\$?\\s?(?:\\d+(?:\\.\\d+)?|\\.\\d+)';

function extractNumber(text: string): string | null {
  // Commas between digits are thousands separators: "1,000" is 1000.
  const clean = text.replace(/(\d),(?=\d)/g, '$1');
  const last = (re: RegExp) => {
    let found: string | null = null;
    for (const match of clean.matchAll(re)) found = match[1]!;
    return found;
  };
  const raw =
    last(new RegExp(`####\\s*(${NUMBER})`, 'g')) ??
    last(new RegExp(`\\b[Aa]nswer\\b(?:\\s+is)?[\\s:*=]*(${NUMBER})`, 'g')) ??
    last(new RegExp(`(${NUMBER})`, 'g'));
  return raw === null ? null : canonicalNumber(raw);
}

/** "$1000.00" -> "1000", "-0.50" -> "-0.5", ".5" -> "0.5". */
function canonicalNumber(raw: string): string | null {
  const value = Number(raw.replace(/[$\s]/g, ''));
  return Number.isFinite(value) ? String(value === 0 ? 0 : value) : null;
}
