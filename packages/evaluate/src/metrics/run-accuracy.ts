/**
 * accuracy: greedy answers generated in batches (left-padded by the generator, each row as it
 * would decode alone), the answer read out by --answer_type and compared with the gold answer
 * read out the same way. An answer that cannot be read counts as wrong and is listed.
 */
import { createGenerator, resolveGenerationOptions, type Generator } from '@lmflow/inference';
import { answersMatch, extractAnswer } from '../answers/extract-answer.js';
import { EvaluationError } from '../errors.js';
import { fitPrompt } from '../loglik/fit-context.js';
import type { AccuracyPlan } from './plan-evaluation.js';
import type { EvaluationResult, SampleRecord } from './metric-types.js';
import type { RunContext } from './run-loglik-metrics.js';

export async function runAccuracy(plan: AccuracyPlan, context: RunContext & { generator?: Generator }): Promise<EvaluationResult> {
  const { model, tokenizer, onProgress } = context;
  const generator = context.generator ?? createGenerator(model, tokenizer);
  const { answerType, maxNewTokens, batchSize } = plan.options;
  // The model's own end tokens, and the template's end of turn when there is a template.
  const defaults = resolveGenerationOptions({}, { generationConfig: generator.generationConfig, modelConfig: model.config, tokenizer, vocabSize: model.vocabSize, caller: 'evaluate' });
  const eosTokenIds = [...new Set([...defaults.eosTokenIds, ...plan.endOfTurn.tokenIds])];
  let prompts;
  try {
    prompts = plan.items.map((item) => fitPrompt(item.promptIds, generator.contextLength, maxNewTokens));
  } catch (error) {
    throw new EvaluationError((error as Error).message);
  }

  const samples: SampleRecord[] = [];
  const unparseable: number[] = [];
  let correct = 0;
  for (let start = 0; start < plan.items.length; start += batchSize) {
    const batch = prompts.slice(start, start + batchSize);
    const results = await generator.generateBatch(
      batch.map((p) => p.ids),
      { maxNewTokens, doSample: false, eosTokenIds, ...(plan.endOfTurn.stop.length > 0 && { stop: plan.endOfTurn.stop }) },
    );
    results.forEach((result, k) => {
      const item = plan.items[start + k]!;
      const extracted = extractAnswer(result.text, answerType);
      const right = answersMatch(extracted, item.goldAnswer);
      if (extracted === null) unparseable.push(item.origin.index);
      if (right) correct++;
      samples.push({
        index: item.origin.index,
        file: item.origin.file,
        file_index: item.origin.fileIndex,
        prompt: item.prompt,
        prediction: result.text,
        extracted,
        gold: item.gold,
        gold_answer: item.goldAnswer,
        correct: right,
        finish_reason: result.finishReason,
        ...(batch[k]!.truncated && { truncated: true }),
      });
    });
    onProgress?.(Math.min(start + batchSize, plan.items.length), plan.items.length);
  }
  const truncated = prompts.filter((p) => p.truncated).length;
  return {
    metric: 'accuracy',
    summary: { accuracy: correct / samples.length, correct, total: samples.length, unparseable: unparseable.length, truncated },
    samples,
    unparseable,
    notes: truncated > 0 ? [`${truncated} prompt(s) were cut from the left to leave room for ${maxNewTokens} new tokens in the model's ${generator.contextLength} positions`] : [],
  };
}
