/** Plan and run in one call, for a model already loaded (a plugin, a script). */
import type { Dataset } from '@lmflow/core';
import type { Tokenizer } from '@lmflow/data';
import type { Generator } from '@lmflow/inference';
import type { CausalLM } from '@lmflow/models';
import { planEvaluation } from './metrics/plan-evaluation.js';
import { runEvaluation } from './metrics/run-evaluation.js';
import type { EvaluateOptions, EvaluationResult } from './metrics/metric-types.js';

export interface EvaluateModelContext {
  model: CausalLM;
  tokenizer: Tokenizer;
  /** For accuracy: a generator of this model (its generation_config.json). @default createGenerator(model, tokenizer) */
  generator?: Generator;
  onProgress?: (done: number, total: number) => void;
}

export async function evaluateModel(dataset: Dataset, options: EvaluateOptions, context: EvaluateModelContext): Promise<EvaluationResult> {
  const plan = planEvaluation(dataset, context.tokenizer, options);
  // No tape is recorded even for a model in training: scoring runs under noGrad, generation
  // with a KV cache (which turns recording off).
  return runEvaluation(plan, context);
}
