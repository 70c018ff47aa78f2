import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { convertDataset } from './convert-dataset.js';
import { loadDataset } from '../dataset/load-dataset.js';
import { writeDataset } from '../dataset/write-dataset.js';
import { tempFolder } from '../test-fixtures.js';

// Records in each source's public layout, written for these tests.
const MEDMCQA = [
  { id: 'a1', question: 'Which vitamin deficiency causes scurvy?', opa: 'Vitamin A', opb: 'Vitamin C', opc: 'Vitamin D', opd: 'Vitamin K', cop: 2, choice_type: 'single', exp: 'Vitamin C is needed for collagen.', subject_name: 'Biochemistry', topic_name: null },
  { id: 'a2', question: 'The drug of choice for absence seizures is', opa: 'Phenytoin', opb: 'Carbamazepine', opc: 'Ethosuximide', opd: 'Phenobarbital', cop: 3, choice_type: 'single', exp: null, subject_name: 'Pharmacology', topic_name: 'CNS' },
];
const MEDQA = { question: 'A 23-year-old presents with fever. Which test is next?', answer: 'Blood culture', options: { A: 'Chest X-ray', B: 'Blood culture', C: 'Lumbar puncture', D: 'CT head', E: 'Urinalysis' }, meta_info: 'step1', answer_idx: 'B' };
const PUBMEDQA = {
  '21645374': {
    QUESTION: 'Do statins reduce the risk of stroke after surgery?',
    CONTEXTS: ['We studied 400 patients after cardiac surgery.', 'Stroke occurred in 2% of treated and 5% of untreated patients.'],
    LABELS: ['METHODS', 'RESULTS'],
    MESHES: ['Stroke'],
    YEAR: '2011',
    reasoning_required_pred: 'yes',
    reasoning_free_pred: 'yes',
    final_decision: 'yes',
    LONG_ANSWER: 'Statins were associated with fewer strokes.',
  },
  '18251357': { QUESTION: 'Is coffee linked to migraine?', CONTEXTS: ['A survey of 90 adults.'], LABELS: ['METHODS'], MESHES: [], YEAR: '2008', final_decision: 'maybe', LONG_ANSWER: 'The evidence is mixed.' },
};
const MMLU_CSV = 'What is the largest organ of the human body?,Liver,Skin,Heart,Brain,B\n"Which of these bones is in the arm, not the leg?",Femur,Tibia,Humerus,Fibula,C\n';
const GSM8K = [
  { question: 'Tom has 3 boxes with 4 apples each. How many apples does he have?', answer: 'He has 3 * 4 = <<3*4=12>>12 apples.\n#### 12' },
  { question: 'A shirt costs $1,200 and is discounted by $200. What is the price?', answer: 'The price is 1,200 - 200 = <<1200-200=1000>>1000.\n#### 1,000' },
];
const jsonl = (records: unknown[]) => records.map((r) => JSON.stringify(r)).join('\n') + '\n';

async function errorOf(name: string, content: unknown, from: 'medmcqa' | 'pubmedqa' | 'mmlu' | 'gsm8k'): Promise<string> {
  const dir = tempFolder({ [name]: content });
  const error = await convertDataset(join(dir, name), { from, to: 'text2text' }).catch((e: Error) => e);
  return (error as Error).message.replaceAll(dir, 'DIR');
}

describe('convertDataset from the benchmark sources', () => {
  it('medmcqa (JSON Lines named .json, cop counting from 1) to lettered questions; writes and loads back', async () => {
    const dir = tempFolder({ 'dev.json': jsonl(MEDMCQA) });
    const dataset = await convertDataset(join(dir, 'dev.json'), { from: 'medmcqa', to: 'text2text' });
    expect(dataset.instances).toEqual([
      { input: 'Which vitamin deficiency causes scurvy?\nA. Vitamin A\nB. Vitamin C\nC. Vitamin D\nD. Vitamin K\nAnswer:', output: 'B. Vitamin C' },
      { input: 'The drug of choice for absence seizures is\nA. Phenytoin\nB. Carbamazepine\nC. Ethosuximide\nD. Phenobarbital\nAnswer:', output: 'C. Ethosuximide' },
    ]);
    const out = join(tempFolder(), 'medmcqa.json');
    await writeDataset(dataset, out);
    expect((await loadDataset(out)).instances).toEqual(dataset.instances);
  });

  it('medmcqa: the Hugging Face copy counts cop from 0; MedQA records use options and answer_idx', async () => {
    const zeroBased = MEDMCQA.map((r, i) => ({ ...r, cop: [0, 3][i] }));
    const dir = tempFolder({ 'train.jsonl': jsonl(zeroBased), 'medqa.jsonl': jsonl([MEDQA]) });
    const hf = await convertDataset(join(dir, 'train.jsonl'), { from: 'medmcqa', to: 'text2text' });
    expect(hf.instances.map((i) => (i as { output: string }).output)).toEqual(['A. Vitamin A', 'D. Phenobarbital']);
    const medqa = await convertDataset(join(dir, 'medqa.jsonl'), { from: 'medmcqa', to: 'text2text' });
    expect(medqa.instances).toEqual([
      { input: 'A 23-year-old presents with fever. Which test is next?\nA. Chest X-ray\nB. Blood culture\nC. Lumbar puncture\nD. CT head\nE. Urinalysis\nAnswer:', output: 'B. Blood culture' },
    ]);
  });

  it('pubmedqa (ori_pqal.json keyed by PubMed id) to context, question and yes/no/maybe', async () => {
    const dir = tempFolder({ 'ori_pqal.json': PUBMEDQA });
    const dataset = await convertDataset(join(dir, 'ori_pqal.json'), { from: 'pubmedqa', to: 'text2text' });
    // PubMed ids are integer keys, which JavaScript objects (like Python's sorted json dumps) order numerically.
    expect(dataset.instances).toEqual([
      { input: 'Context: A survey of 90 adults.\nQuestion: Is coffee linked to migraine?\nAnswer (yes, no or maybe):', output: 'maybe' },
      {
        input: 'Context: We studied 400 patients after cardiac surgery.\nStroke occurred in 2% of treated and 5% of untreated patients.\nQuestion: Do statins reduce the risk of stroke after surgery?\nAnswer (yes, no or maybe):',
        output: 'yes',
      },
    ]);
  });

  it('mmlu CSV (quoted fields with commas) with the subject from the file name', async () => {
    const dir = tempFolder({ 'anatomy_test.csv': MMLU_CSV });
    const dataset = await convertDataset(join(dir, 'anatomy_test.csv'), { from: 'mmlu', to: 'text2text' });
    expect(dataset.instances).toEqual([
      { input: 'The following is a multiple choice question about anatomy.\n\nWhat is the largest organ of the human body?\nA. Liver\nB. Skin\nC. Heart\nD. Brain\nAnswer:', output: 'B. Skin' },
      { input: 'The following is a multiple choice question about anatomy.\n\nWhich of these bones is in the arm, not the leg?\nA. Femur\nB. Tibia\nC. Humerus\nD. Fibula\nAnswer:', output: 'C. Humerus' },
    ]);
  });

  it('gsm8k JSON Lines: the question as prompt, the worked solution ending in #### as output', async () => {
    const dir = tempFolder({ 'test.jsonl': jsonl(GSM8K) });
    const dataset = await convertDataset(join(dir, 'test.jsonl'), { from: 'gsm8k', to: 'text2text' });
    expect(dataset.instances[0]).toEqual({ input: `Question: ${GSM8K[0]!.question}\nAnswer:`, output: GSM8K[0]!.answer });
    expect(dataset.instances).toHaveLength(2);
  });

  it('names the record, line and field of bad input', async () => {
    expect(await errorOf('dev.json', jsonl([MEDMCQA[0], { ...MEDMCQA[1], cop: 7 }]), 'medmcqa')).toBe(
      'dataset DIR/dev.json: record 1 (line 2): "cop" is 7 (a number), expected the number of the right option, 1..4 (1 = A; this file counts from 1)',
    );
    expect(await errorOf('dev.json', jsonl([{ ...MEDMCQA[0], cop: 0 }, { ...MEDMCQA[1], cop: 4 }]), 'medmcqa')).toMatch(/"cop" is 0 in some records and 4 in others/);
    expect(await errorOf('test.json', jsonl([{ ...MEDMCQA[0], cop: undefined }]), 'medmcqa')).toBe(
      'dataset DIR/test.json: record 0 (line 1): has no answer ("cop"); the test split of MedMCQA has none, convert the train or dev split',
    );
    expect(await errorOf('dev.json', jsonl([{ ...MEDMCQA[0], opc: '' }]), 'medmcqa')).toBe('dataset DIR/dev.json: record 0 (line 1): "opc" is "", expected a non-empty string');
    expect(await errorOf('dev.json', jsonl([{ ...MEDMCQA[0], source: 'x' }]), 'medmcqa')).toMatch(/^dataset DIR\/dev.json: record 0 \(line 1\): unknown field "source"; a medmcqa record has "question", "opa"/);
    expect(await errorOf('ori_pqal.json', { 123: { ...PUBMEDQA['18251357'], final_decision: 'unclear' } }, 'pubmedqa')).toBe(
      'dataset DIR/ori_pqal.json: record 0 (PubMed id 123): "final_decision" is "unclear", expected "yes", "no" or "maybe"',
    );
    expect(await errorOf('x_dev.csv', 'Q1,a,b,c,d,A\nQ2,a,b,c,d,F\n', 'mmlu')).toBe('dataset DIR/x_dev.csv: record 1 (line 2): the answer (column 6) is "F", expected A, B, C or D');
    expect(await errorOf('x_dev.csv', 'Q1,a,b,c,A\n', 'mmlu')).toBe('dataset DIR/x_dev.csv: record 0 (line 1): has 5 columns, expected 6: question, the options A, B, C, D, and the answer letter');
    expect(await errorOf('test.jsonl', jsonl([{ question: 'q', answer: 'It is 12.' }]), 'gsm8k')).toBe('dataset DIR/test.jsonl: record 0 (line 1): "answer" is "It is 12.", expected a solution ending in "#### <number>"');
    const dir = tempFolder({ 'test.jsonl': jsonl(GSM8K) });
    expect(await convertDataset(join(dir, 'test.jsonl'), { from: 'gsm8k', to: 'conversation' }).catch((e: Error) => e.message.replaceAll(dir, 'DIR'))).toBe(
      'dataset DIR/test.jsonl: gsm8k records convert to text2text (a question and its gold answer), not conversation',
    );
  });
});
