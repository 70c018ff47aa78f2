/**
 * Shared material of the LoRA tests: stories260K (a real pretrained Llama), alpaca demo
 * samples converted to text2text, finetune configs as the CLI resolves them, and a greedy
 * decoder to compare models by their text.
 */
import { resolveConfig } from '@lmflow/core';
import { finetuneOptionGroups, type FinetuneConfig } from '@lmflow/train';
import { argmax, noGrad, tensor, tidy } from '@lmflow/tensor';
import type { CausalLM } from '@lmflow/models';

export { alpacaSubset, repoRoot, shared, stories260K, tempDir } from '@lmflow/test-utils';

export function finetuneConfig(argv: string[]): FinetuneConfig {
  return resolveConfig(finetuneOptionGroups, { argv });
}

export const quiet = { log: () => undefined, progressStream: { write: () => true } };

/** Token ids of `count` greedy steps after `prompt` (full forward each step: the model is tiny). */
export function greedy(model: CausalLM, prompt: number[], count: number): number[] {
  const ids = [...prompt];
  for (let i = 0; i < count; i++) {
    const next = noGrad(() =>
      tidy(() => {
        const logits = model.forward(tensor([ids], { dtype: 'i32', device: model.device }));
        return argmax(logits.select(1, ids.length - 1).reshape(-1)).item();
      }),
    );
    ids.push(next);
  }
  return ids.slice(prompt.length);
}

/** Logits (flattened) of one pass over `ids`. */
export function logitsOf(model: CausalLM, ids: number[]): number[] {
  return noGrad(() => tidy(() => model.forward(tensor([ids], { dtype: 'i32', device: model.device })).toFlatArray()));
}
