/** The model work of a planned evaluation: one function whatever the metric. */
import type { Generator } from '@lmflow/inference';
import { runAccuracy } from './run-accuracy.js';
import { runMultipleChoice, runNll, runPerplexity, type RunContext } from './run-loglik-metrics.js';
import type { EvaluationPlan } from './plan-evaluation.js';
import type { EvaluationResult } from './metric-types.js';

export type { RunContext };

export async function runEvaluation(plan: EvaluationPlan, context: RunContext & { generator?: Generator }): Promise<EvaluationResult> {
  switch (plan.metric) {
    case 'ppl':
      return runPerplexity(plan, context);
    case 'nll':
      return runNll(plan, context);
    case 'mc_loglik':
      return runMultipleChoice(plan, context);
    case 'accuracy':
      return runAccuracy(plan, context);
  }
}
