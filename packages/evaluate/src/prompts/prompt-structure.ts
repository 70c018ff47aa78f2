/**
 * `--prompt_structure "Question: {input}\nAnswer:"`: the text around each input, LMFlow's
 * evaluator flag. Only `{input}` is replaced (every occurrence); other braces are kept as
 * written, so prompts may hold JSON or code.
 */
import { EvaluationError, quote } from '../errors.js';

export function checkPromptStructure(structure: string): void {
  if (!structure.includes('{input}')) {
    throw new EvaluationError(`--prompt_structure is ${quote(structure)}, expected a text containing "{input}" (where each instance's input goes), e.g. "Question: {input}\\nAnswer:"`);
  }
}

export function applyPromptStructure(structure: string, input: string): string {
  return structure.replaceAll('{input}', input);
}
