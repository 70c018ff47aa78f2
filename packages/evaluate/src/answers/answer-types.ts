/**
 * The answer types of `--answer_type`: how the answer is read out of a model's free text and
 * out of the gold output, and when two answers match.
 */
export const ANSWER_TYPES = ['medmcqa', 'medqa', 'mmlu', 'multiple_choice', 'pubmedqa', 'gsm8k', 'text'] as const;
export type AnswerType = (typeof ANSWER_TYPES)[number];

/** The option letters a multiple-choice type allows (MedMCQA and MMLU have four options, MedQA five). */
export const CHOICE_LETTERS: Readonly<Partial<Record<AnswerType, string>>> = {
  medmcqa: 'ABCD',
  mmlu: 'ABCD',
  medqa: 'ABCDE',
  multiple_choice: 'ABCDE',
};

export function isMultipleChoice(type: AnswerType): boolean {
  return CHOICE_LETTERS[type] !== undefined;
}

/** What the extractor expects, for error messages about gold answers. */
export function describeAnswerType(type: AnswerType): string {
  const letters = CHOICE_LETTERS[type];
  if (letters) return `an option letter ${letters.split('').join(', ')} ("B", "B. text", "(B)", "Answer: B", "The answer is (B)")`;
  if (type === 'pubmedqa') return 'yes, no or maybe';
  if (type === 'gsm8k') return 'a number ("#### 72", or the last number of the text)';
  return 'non-empty text';
}
