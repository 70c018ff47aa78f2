/**
 * The metrics that need only log-likelihoods: ppl (sliding window over the joined texts), nll
 * (LMFlow's: the mean over samples of each sample's summed NLL of its output tokens) and
 * mc_loglik (the option with the highest log-likelihood given the question, summed, or per
 * byte of the option's text with lengthNormalize, as lm-evaluation-harness's acc_norm).
 */
import { padTokenIdOf, type Tokenizer } from '@lmflow/data';
import type { CausalLM } from '@lmflow/models';
import { fitRow } from '../loglik/fit-context.js';
import { scoreRows, type ScoreRow } from '../loglik/score-rows.js';
import { slidingWindowPerplexity } from '../loglik/sliding-window.js';
import type { McPlan, NllPlan, Origin, PplPlan } from './plan-evaluation.js';
import type { EvaluationResult } from './metric-types.js';
import { EvaluationError } from '../errors.js';

export interface RunContext {
  model: CausalLM;
  tokenizer: Tokenizer;
  onProgress?: (done: number, total: number) => void;
}

const where = (o: Origin) => `dataset ${o.file}: instance ${o.fileIndex}`;

function fitted(row: ScoreRow, model: CausalLM, origin: Origin) {
  try {
    return fitRow(row, model.maxPositions, where(origin));
  } catch (error) {
    throw new EvaluationError((error as Error).message);
  }
}

export function runPerplexity(plan: PplPlan, { model, tokenizer, onProgress }: RunContext): EvaluationResult {
  const notes: string[] = [];
  const maxLength = Math.min(plan.options.maxLength ?? model.maxPositions, model.maxPositions);
  let stride = plan.options.evaluateBlockSize;
  if (stride > maxLength) {
    notes.push(`the stride (--evaluate_block_size ${stride}) is longer than a window (${maxLength} tokens); it was set to ${maxLength} so that no token goes unscored`);
    stride = maxLength;
  }
  const result = slidingWindowPerplexity(model, plan.ids, {
    maxLength,
    stride,
    batchSize: plan.options.batchSize,
    padTokenId: padTokenIdOf(tokenizer),
    ...(onProgress && { onProgress }),
  });
  return {
    metric: 'ppl',
    summary: { perplexity: result.perplexity, nll_per_token: result.nll / result.tokens, tokens: result.tokens, texts: plan.texts, windows: result.windows.length, window_length: maxLength, stride },
    samples: result.windows.map((w, index) => ({ index, start: w.start, end: w.end, scored_from: w.targetStart, tokens: w.tokens, nll: w.nll })),
    notes,
  };
}

export function runNll(plan: NllPlan, { model, tokenizer, onProgress }: RunContext): EvaluationResult {
  const fits = plan.items.map((item) => fitted(item.row, model, item.origin));
  const scores = scoreRows(
    model,
    fits.map((f) => f.row),
    { batchSize: plan.options.batchSize, padTokenId: padTokenIdOf(tokenizer), ...(onProgress && { onProgress: (done: number) => onProgress(done, fits.length) }) },
  );
  const nll = scores.reduce((sum, s) => sum + s.nll, 0);
  const tokens = scores.reduce((sum, s) => sum + s.tokens, 0);
  const truncated = fits.filter((f) => f.truncated).length;
  return {
    metric: 'nll',
    summary: { nll: nll / scores.length, nll_per_token: nll / tokens, perplexity: Math.exp(nll / tokens), samples: scores.length, tokens, truncated },
    samples: plan.items.map((item, k) => ({ index: item.origin.index, file: item.origin.file, file_index: item.origin.fileIndex, nll: scores[k]!.nll, tokens: scores[k]!.tokens, truncated: fits[k]!.truncated })),
    notes: truncated > 0 ? [`${truncated} sample(s) were longer than the model's ${model.maxPositions} positions; their oldest context tokens were cut (scored tokens are kept)`] : [],
  };
}

export function runMultipleChoice(plan: McPlan, { model, tokenizer, onProgress }: RunContext): EvaluationResult {
  const encoder = new TextEncoder();
  // One row per option: the question's ids, then the option's ids (the scored part).
  const rows = plan.items.flatMap((item) =>
    item.choices.map((choice) => fitted({ ids: [...item.contextIds, ...choice.ids], labels: [...item.contextIds.map(() => -100), ...choice.ids] }, model, item.origin)),
  );
  const scores = scoreRows(
    model,
    rows.map((f) => f.row),
    { batchSize: plan.options.batchSize, padTokenId: padTokenIdOf(tokenizer), ...(onProgress && { onProgress: (done: number) => onProgress(done, rows.length) }) },
  );
  let next = 0;
  let correct = 0;
  let correctNorm = 0;
  let chance = 0;
  const samples = plan.items.map((item) => {
    const choices = item.choices.map((choice) => {
      const score = scores[next++]!;
      const bytes = encoder.encode(choice.text).length;
      return { label: choice.label, text: choice.text, loglik: -score.nll, tokens: score.tokens, bytes, loglik_per_byte: -score.nll / bytes };
    });
    const argmax = (key: 'loglik' | 'loglik_per_byte') => choices.reduce((best, c, i) => (c[key] > choices[best]![key] ? i : best), 0);
    const raw = argmax('loglik');
    const norm = argmax('loglik_per_byte');
    const picked = plan.options.lengthNormalize ? norm : raw;
    correct += raw === item.gold ? 1 : 0;
    correctNorm += norm === item.gold ? 1 : 0;
    chance += 1 / choices.length;
    return {
      index: item.origin.index,
      file: item.origin.file,
      file_index: item.origin.fileIndex,
      prompt: item.prompt,
      choices,
      prediction: choices[picked]!.label,
      gold: choices[item.gold]!.label,
      correct: picked === item.gold,
    };
  });
  const n = samples.length;
  const truncated = rows.filter((f) => f.truncated).length;
  return {
    metric: 'mc_loglik',
    summary: {
      accuracy: (plan.options.lengthNormalize ? correctNorm : correct) / n,
      accuracy_sum: correct / n,
      accuracy_per_byte: correctNorm / n,
      correct: plan.options.lengthNormalize ? correctNorm : correct,
      total: n,
      chance: chance / n,
      truncated,
    },
    samples,
    notes: truncated > 0 ? [`${truncated} option row(s) were longer than the model's ${model.maxPositions} positions; their oldest question tokens were cut`] : [],
  };
}
