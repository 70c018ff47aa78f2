/**
 * The options of a multiple-choice question written in its input, one per line, lettered from
 * A: "A. Aspirin", "(B) Heparin", "C) Warfarin", "D: none". This is how the converters of
 * MedMCQA, MedQA and MMLU write them, and how most published prompts do.
 */
export interface Choice {
  /** "A", "B", ... (or the text itself for yes/no/maybe and scored candidates). */
  label: string;
  text: string;
}

const OPTION_LINE = /^\s*(?:\(([A-J])\)|([A-J])[.):])\s*(.*?)\s*$/;

/** The last run of lines lettered A, B, C, ... in order; null when there are fewer than two. */
export function parseLetteredChoices(input: string): Choice[] | null {
  let best: Choice[] | null = null;
  let run: Choice[] = [];
  for (const line of input.split('\n')) {
    const match = OPTION_LINE.exec(line);
    const letter = match ? (match[1] ?? match[2])! : null;
    if (match && letter === String.fromCharCode(65 + run.length) && match[3] !== '') {
      run.push({ label: letter, text: match[3]! });
      continue;
    }
    if (run.length >= 2) best = run;
    run = match && letter === 'A' && match[3] !== '' ? [{ label: 'A', text: match[3]! }] : [];
  }
  if (run.length >= 2) best = run;
  return best;
}
