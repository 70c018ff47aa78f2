/**
 * `npm run test:gpu`, model level: stories260K (../shared/models/stories260K, a real Llama)
 * decodes greedily on cuda to the same tokens as on cpu (whose text is checked against the
 * README's golden output in packages/models), and one training step (loss, backward, AdamW
 * on the attention projections, as a LoRA step updates only small matrices) gives the
 * same loss, gradients and updated weights on cuda as on cpu. Skipped where no GPU is present.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadModel, type CausalLM } from '@lmflow/models';
import { expectClose } from '@lmflow/test-utils';
import { adamwUpdate, argmax, backward, crossEntropy, cudaStatus, tensor, tidy, zerosLike, type Tensor } from '@lmflow/tensor';

const status = cudaStatus();
if (!status.available) console.warn(`model.gpu.test: skipped, ${status.reason}`);
const stories260K = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../shared/models/stories260K');

function greedy(model: CausalLM, prompt: number[], steps: number): number[] {
  const ids = [...prompt];
  for (let i = 0; i < steps; i++) {
    ids.push(tidy(() => {
      const logits = model.forward(tensor([ids], { device: model.device, dtype: 'i32' }));
      return argmax(logits.select(1, ids.length - 1), -1).item();
    }));
  }
  return ids;
}

function trainStep(model: CausalLM, ids: number[]): { loss: number; weights: Tensor[]; grads: Tensor[] } {
  const params = [...model.namedParameters()].filter(([n]) => /self_attn\.(q|v)_proj\.weight$/.test(n)).map(([, p]) => p.requiresGrad_());
  const loss = crossEntropy(model.forward(tensor([ids], { device: model.device, dtype: 'i32' })).reshape([ids.length, -1]), tensor([...ids.slice(1), -100], { device: model.device, dtype: 'i32' }));
  backward(loss);
  const grads = params.map((p) => p.grad!.detach().to('cpu'));
  for (const p of params) {
    adamwUpdate(p, p.grad!, zerosLike(p), zerosLike(p), { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, step: 1 });
    p.grad = null;
  }
  return { loss: loss.item(), weights: params.map((p) => p.detach().to('cpu')), grads };
}

describe.skipIf(!status.available)('stories260K on cuda', () => {
  it('greedy decoding gives the same tokens as on cpu; a training step the same numbers', async () => {
    const cpu = await loadModel(stories260K, { device: 'cpu' });
    const gpu = await loadModel(stories260K, { device: 'cuda' });
    const prompt = [1, 403, 407, 261];
    expect(greedy(gpu, prompt, 24)).toEqual(greedy(cpu, prompt, 24));
    const ids = [1, 403, 407, 261, 378, 284, 260, 290, 377, 263, 292, 348, 269, 17];
    const a = trainStep(cpu, ids);
    const b = trainStep(gpu, ids);
    expect(b.loss).toBeCloseTo(a.loss, 4);
    b.grads.forEach((g, i) => expectClose(g, a.grads[i]!, { atol: 1e-5, rtol: 1e-3 }, `grad ${i}`));
    b.weights.forEach((w, i) => expectClose(w, a.weights[i]!, { atol: 1e-5, rtol: 1e-4 }, `weight ${i}`));
  }, 120_000);
});
