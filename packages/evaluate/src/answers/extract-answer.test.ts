import { describe, expect, it } from 'vitest';
import { answersMatch, extractAnswer, normalizeText } from './extract-answer.js';
import type { AnswerType } from './answer-types.js';

// [model output, expected extraction]
const CHOICE_OUTPUTS: [string, string | null][] = [
  ['The answer is (B)', 'B'],
  ['The answer is (B).', 'B'],
  ['B', 'B'],
  ['B.', 'B'],
  [' B. Aspirin', 'B'],
  ['(C) Metformin is the first-line drug.', 'C'],
  ['D) None of the above', 'D'],
  ['Answer: B', 'B'],
  ['Answer: A', 'A'],
  ['answer: c', null],
  ['**Answer:** D', 'D'],
  ['The correct answer is option C, because the drug blocks the channel.', 'C'],
  ['The correct answer is C because the drug blocks the channel.', 'C'],
  ['Let us think. Option A is wrong since it raises the pressure. Option B lowers it. So the answer is B.', 'B'],
  ['The answer is B, not option A.', 'B'],
  ['Option A is incorrect. Option D is correct.', 'D'],
  ['A deficiency of vitamin B12 causes this anemia.', null],
  ['Answer: A deficiency of vitamin B12.', null],
  ['A. Vitamin B12 deficiency', 'A'],
  ['I would pick (A) here.', 'A'],
  ['Both are plausible, but I am not sure.', null],
  ['', null],
  ['The patient should receive treatment immediately.', null],
  ['\n\nB\n\nExplanation: the drug blocks the channel.', 'B'],
];

const PUBMEDQA_OUTPUTS: [string, string | null][] = [
  ['yes', 'yes'],
  ['Yes.', 'yes'],
  ['No, the trial found no difference in mortality.', 'no'],
  ['maybe', 'maybe'],
  ['The answer is maybe.', 'maybe'],
  ['Answer: no', 'no'],
  ['Based on the results, there was no significant difference, so the answer is yes.', 'yes'],
  ['The study suggests that statins reduce risk; no further trials are needed.', 'no'],
  ['The results are inconclusive.', null],
  ['yes or no cannot be decided', null],
];

const GSM8K_OUTPUTS: [string, string | null][] = [
  ['Natalia sold 48/2 = 24 clips in May.\nNatalia sold 48+24 = 72 clips altogether.\n#### 72', '72'],
  ['She earns 12 * 50 / 60 = 10 dollars. The answer is 10.', '10'],
  ['The total is $1,000.00', '1000'],
  ['He has 5 apples and gives 2, so 3 remain.', '3'],
  ['The temperature drops to -4 degrees.', '-4'],
  ['Answer: 0.50', '0.5'],
  ['#### 18 and then 5 more words 7', '18'],
  ['I do not know.', null],
];

const TEXT_OUTPUTS: [string, string | null][] = [
  ['The Eiffel Tower.', 'eiffel tower'],
  ['  three hundred forty-seven ', 'three hundred forty seven'],
  ['Paris!', 'paris'],
  ['...', null],
];

function table(type: AnswerType, rows: [string, string | null][]) {
  return rows.map(([output]) => [output, extractAnswer(output, type)]);
}

describe('extractAnswer', () => {
  it('reads option letters from multiple-choice answers (medmcqa, mmlu: A-D)', () => {
    expect(table('medmcqa', CHOICE_OUTPUTS)).toEqual(CHOICE_OUTPUTS);
    expect(table('mmlu', CHOICE_OUTPUTS)).toEqual(CHOICE_OUTPUTS);
  });

  it('knows the letters each type allows: E only for medqa and multiple_choice', () => {
    expect(extractAnswer('The answer is (E)', 'medqa')).toBe('E');
    expect(extractAnswer('The answer is (E)', 'multiple_choice')).toBe('E');
    expect(extractAnswer('The answer is (E)', 'mmlu')).toBe(null);
    expect(extractAnswer('E. None of these', 'medmcqa')).toBe(null);
  });

  it('reads yes/no/maybe (pubmedqa)', () => {
    expect(table('pubmedqa', PUBMEDQA_OUTPUTS)).toEqual(PUBMEDQA_OUTPUTS);
  });

  it('reads numbers (gsm8k): "#### N" first, then "the answer is N", then the last number; commas removed', () => {
    expect(table('gsm8k', GSM8K_OUTPUTS)).toEqual(GSM8K_OUTPUTS);
  });

  it('normalises text answers as SQuAD does (text)', () => {
    expect(table('text', TEXT_OUTPUTS)).toEqual(TEXT_OUTPUTS);
    expect(normalizeText('The  Cat, a dog; AN owl.')).toBe('cat dog owl');
  });

  it('matches only extracted answers: an unparseable prediction is wrong', () => {
    expect(answersMatch('B', 'B')).toBe(true);
    expect(answersMatch('C', 'B')).toBe(false);
    expect(answersMatch(null, 'B')).toBe(false);
    expect(answersMatch(extractAnswer('The answer is 1,000', 'gsm8k'), extractAnswer('#### 1000', 'gsm8k')!)).toBe(true);
  });
});
