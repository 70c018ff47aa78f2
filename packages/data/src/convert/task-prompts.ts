/**
 * The prompts the benchmark converters write (documented in docs/evaluation.md). A question
 * with options becomes
 *
 *   {question}
 *   A. {option A}
 *   B. {option B}
 *   ...
 *   Answer:
 *
 * with the output "B. {option B}": `lmflow evaluate --answer_type medmcqa|mmlu` reads the
 * letter from both a generated answer and this output, and `--metric mc_loglik` reads the
 * options from the lettered lines.
 */
export const OPTION_LETTERS = 'ABCDEFGHIJ';

export function multipleChoiceInput(question: string, options: readonly string[], preamble = ''): string {
  const lines = options.map((text, i) => `${OPTION_LETTERS[i]}. ${text}`);
  return `${preamble}${question}\n${lines.join('\n')}\nAnswer:`;
}

export function multipleChoiceOutput(options: readonly string[], answer: number): string {
  return `${OPTION_LETTERS[answer]}. ${options[answer]}`;
}
