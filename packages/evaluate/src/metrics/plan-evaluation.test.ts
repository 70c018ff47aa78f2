import { beforeAll, describe, expect, it } from 'vitest';
import type { Dataset, DatasetType } from '@lmflow/core';
import { loadTokenizer, type Tokenizer } from '@lmflow/data';
import { planEvaluation, type AccuracyPlan, type McPlan, type NllPlan } from './plan-evaluation.js';
import type { EvaluateOptions } from './metric-types.js';
import { stories260K } from '../test-support/paths.js';

let tokenizer: Tokenizer;
beforeAll(async () => {
  tokenizer = await loadTokenizer(stories260K);
});

const FILE = '/data/eval.json';
function dataset(type: DatasetType, instances: unknown[]): Dataset {
  return { type, instances: instances as Dataset['instances'], origins: instances.map((_, index) => ({ file: FILE, index })) };
}
const errorOf = (data: Dataset, options: EvaluateOptions) => {
  try {
    planEvaluation(data, tokenizer, options);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected planEvaluation to fail');
};

const QUESTION = 'Which drug is an anticoagulant?\nA. Aspirin\nB. Heparin\nC. Insulin\nD. Metformin\nAnswer:';

describe('planEvaluation: checks before any model work', () => {
  it('refuses dataset types a metric cannot read, naming the file and what to use', () => {
    const text2text = dataset('text2text', [{ input: 'q', output: 'a' }]);
    const textOnly = dataset('text_only', [{ text: 'Once upon a time.' }]);
    expect(errorOf(text2text, { metric: 'ppl' })).toBe(`--metric ppl reads text_only datasets; dataset ${FILE} is text2text (for the likelihood of outputs given inputs use --metric nll)`);
    expect(errorOf(textOnly, { metric: 'accuracy' })).toBe(
      `--metric accuracy reads text2text datasets; dataset ${FILE} is text_only (accuracy compares generated answers with gold outputs: {"input", "output"} instances)`,
    );
    expect(errorOf(dataset('conversation', [{ messages: [] }]), { metric: 'mc_loglik' })).toMatch(/^--metric mc_loglik reads text2text or text_to_scored_textlist datasets; dataset \/data\/eval.json is conversation/);
  });

  it('refuses an empty dataset, flags that do nothing, and a prompt structure without {input}', () => {
    expect(errorOf(dataset('text2text', []), { metric: 'accuracy' })).toBe('the dataset has no instances to evaluate');
    const text2text = dataset('text2text', [{ input: 'q', output: 'B' }]);
    expect(errorOf(text2text, { metric: 'nll', answerType: 'mmlu' })).toBe('--answer_type mmlu has no use with --metric nll; it is for --metric accuracy and mc_loglik');
    expect(errorOf(text2text, { metric: 'accuracy', promptStructure: 'Question: {question}' })).toBe(
      '--prompt_structure is "Question: {question}", expected a text containing "{input}" (where each instance\'s input goes), e.g. "Question: {input}\\nAnswer:"',
    );
    expect(errorOf(dataset('text_only', [{ text: 't' }]), { metric: 'ppl', conversationTemplate: 'chatml' })).toBe('--conversation_template has no use with --metric ppl, which reads raw text');
  });

  it('refuses an answer_type whose gold answer the output does not hold, naming the instance and the value', () => {
    const data = dataset('text2text', [{ input: QUESTION, output: 'B. Heparin' }, { input: QUESTION, output: 'Heparin' }]);
    expect(errorOf(data, { metric: 'accuracy', answerType: 'medmcqa' })).toBe(
      `dataset ${FILE}: instance 1: "output" is "Heparin", which holds no gold answer for --answer_type medmcqa: expected an option letter A, B, C, D ("B", "B. text", "(B)", "Answer: B", "The answer is (B)")`,
    );
    const numbers = dataset('text2text', [{ input: 'Two plus two?', output: 'four' }]);
    expect(errorOf(numbers, { metric: 'accuracy', answerType: 'gsm8k' })).toBe(
      `dataset ${FILE}: instance 0: "output" is "four", which holds no gold answer for --answer_type gsm8k: expected a number ("#### 72", or the last number of the text)`,
    );
  });

  it('reads gold answers and prompts for accuracy; text is the default answer type', () => {
    const data = dataset('text2text', [{ input: QUESTION, output: 'The answer is (B).' }]);
    const plan = planEvaluation(data, tokenizer, { metric: 'accuracy', answerType: 'mmlu', promptStructure: 'Q: {input}' }) as AccuracyPlan;
    expect(plan.items[0]).toMatchObject({ prompt: `Q: ${QUESTION}`, gold: 'The answer is (B).', goldAnswer: 'B' });
    // Tokenized as finetuning tokenizes a text2text input: no BOS.
    expect(plan.items[0]!.promptIds).toEqual(tokenizer.encode(`Q: ${QUESTION}`, { addSpecialTokens: false }));
    const text = planEvaluation(dataset('text2text', [{ input: 'q', output: 'The Eiffel Tower' }]), tokenizer, { metric: 'accuracy' }) as AccuracyPlan;
    expect(text.options.answerType).toBe('text');
    expect(text.items[0]!.goldAnswer).toBe('eiffel tower');
  });

  it('mc_loglik reads lettered options of the input and the gold letter of the output', () => {
    const plan = planEvaluation(dataset('text2text', [{ input: QUESTION, output: 'B' }]), tokenizer, { metric: 'mc_loglik', answerType: 'medmcqa' }) as McPlan;
    expect(plan.items[0]!.choices.map((c) => [c.label, c.text])).toEqual([['A', 'Aspirin'], ['B', 'Heparin'], ['C', 'Insulin'], ['D', 'Metformin']]);
    expect(plan.items[0]!.gold).toBe(1);
    expect(plan.items[0]!.choices[1]!.ids).toEqual(tokenizer.encode('Heparin', { addSpecialTokens: false }));
    const letters = planEvaluation(dataset('text2text', [{ input: QUESTION, output: 'B' }]), tokenizer, { metric: 'mc_loglik', choiceFormat: 'letter' }) as McPlan;
    expect(letters.items[0]!.choices[1]!.ids).toEqual(tokenizer.encode('B', { addSpecialTokens: false }));
    const pubmed = planEvaluation(dataset('text2text', [{ input: 'Does it work?', output: 'maybe' }]), tokenizer, { metric: 'mc_loglik', answerType: 'pubmedqa' }) as McPlan;
    expect(pubmed.items[0]!.choices.map((c) => c.text)).toEqual(['yes', 'no', 'maybe']);
    expect(pubmed.items[0]!.gold).toBe(2);
  });

  it('mc_loglik errors: no options, a gold letter not offered, too many letters, tied scores', () => {
    expect(errorOf(dataset('text2text', [{ input: 'Which drug?', output: 'B' }]), { metric: 'mc_loglik' })).toBe(
      `dataset ${FILE}: instance 0: "input" has no lettered options; --metric mc_loglik reads them as lines "A. ...", "B. ..." (or "(A) ...", "A) ..."), found none in "Which drug?"`,
    );
    expect(errorOf(dataset('text2text', [{ input: 'Pick\nA. x\nB. y', output: 'C' }]), { metric: 'mc_loglik' })).toBe(`dataset ${FILE}: instance 0: "output" answers C, but "input" has only options A, B`);
    expect(errorOf(dataset('text2text', [{ input: 'Pick\nA. x\nB. y\nC. z\nD. w\nE. v', output: 'A' }]), { metric: 'mc_loglik', answerType: 'mmlu' })).toBe(
      `dataset ${FILE}: instance 0: "input" has options A, B, C, D, E, more than --answer_type mmlu allows (A, B, C, D)`,
    );
    expect(errorOf(dataset('text2text', [{ input: 'q', output: '7' }]), { metric: 'mc_loglik', answerType: 'gsm8k' })).toMatch(/^--answer_type gsm8k has no options to choose from/);
    const tie = dataset('text_to_scored_textlist', [{ input: 'q', output: [{ text: 'a', score: 1 }, { text: 'b', score: 1 }] }]);
    expect(errorOf(tie, { metric: 'mc_loglik' })).toBe(`dataset ${FILE}: instance 0: candidates 0 and 1 share the highest score 1; the right option must have the highest score alone`);
  });

  it('nll rows label exactly what finetuning learns: the output and EOS of text2text, every token of text_only', () => {
    const plan = planEvaluation(dataset('text2text', [{ input: 'Tom saw', output: ' a dog.' }]), tokenizer, { metric: 'nll' }) as NllPlan;
    const input = tokenizer.encode('Tom saw', { addSpecialTokens: false });
    const output = tokenizer.encode(' a dog.', { addSpecialTokens: false });
    expect(plan.items[0]!.row).toEqual({ ids: [...input, ...output, 2], labels: [...input.map(() => -100), ...output, 2] });
    const text = planEvaluation(dataset('text_only', [{ text: 'Tom saw a dog.' }]), tokenizer, { metric: 'nll' }) as NllPlan;
    expect(text.items[0]!.row.ids[0]).toBe(1);
    expect(text.items[0]!.row.labels).toEqual(text.items[0]!.row.ids);
    expect(planEvaluation(dataset('text2text', [{ input: 'a', output: 'b' }, { input: 'c', output: 'd' }, { input: 'e', output: 'f' }]), tokenizer, { metric: 'nll', maxSamples: 2 })).toMatchObject({ items: [{}, {}] });
  });
});
