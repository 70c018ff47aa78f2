import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { crossEntropy, liveTensorCount, noGrad, tensor, type Tensor } from '@lmflow/tensor';
import { maxRelativeError } from '@lmflow/test-utils';
import { createKvCache, loadModel, type CausalLM } from '../index.js';
import { gpt2WeightSpecs, llamaWeightSpecs, writeRandomModel } from '../test-support/random-model.js';
import { repoRoot } from '../test-support/paths.js';

let tmp: string;
let llamaDir: string;
let gpt2Dir: string;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'lmflow-ckpt-'));
  llamaDir = path.join(tmp, 'llama');
  await writeRandomModel(
    llamaDir,
    { model_type: 'llama', vocab_size: 41, hidden_size: 24, intermediate_size: 40, num_hidden_layers: 3, num_attention_heads: 4, num_key_value_heads: 2, rms_norm_eps: 1e-5 },
    llamaWeightSpecs({ vocab: 41, hidden: 24, intermediate: 40, layers: 3, heads: 4, kvHeads: 2, headDim: 6, tied: false, qkvBias: false, oBias: false, mlpBias: false, qkNorm: false }),
    11,
  );
  gpt2Dir = path.join(tmp, 'gpt2');
  await writeRandomModel(
    gpt2Dir,
    { model_type: 'gpt2', vocab_size: 37, n_positions: 16, n_embd: 24, n_head: 4, n_layer: 3, layer_norm_epsilon: 1e-5, activation_function: 'gelu_new' },
    gpt2WeightSpecs({ vocab: 37, positions: 16, hidden: 24, inner: 96, layers: 3, tied: true }),
    12,
  );
});

afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** Loss and every parameter's gradient after one forward and backward pass. */
function gradients(model: CausalLM, ids: Tensor, segments: Tensor | null, gradientCheckpointing: boolean): { loss: number; grads: Map<string, Float64Array> } {
  for (const [, t] of model.namedParameters()) {
    t.grad?.dispose();
    t.grad = null;
    t.requiresGrad = true;
  }
  const [B, T] = ids.shape as [number, number];
  // Positions made by forward itself (not passed) must survive until backward recomputes.
  const logits = model.forward(ids, { gradientCheckpointing, ...(segments ? { segments } : {}) });
  const flatLogits = logits.reshape(B * T, model.vocabSize);
  const targets = ids.reshape(B * T);
  const loss = crossEntropy(flatLogits, targets);
  for (const t of [logits, flatLogits, targets]) t.dispose();
  loss.backward();
  const grads = new Map(model.namedParameters().map(([name, t]) => [name, Float64Array.from(t.grad!.toFlatArray())]));
  const value = loss.item();
  loss.dispose();
  return { loss: value, grads };
}

describe('gradient checkpointing (ForwardOptions.gradientCheckpointing)', () => {
  for (const [name, dir] of [
    ['llama, packed segments', () => llamaDir],
    ['gpt2', () => gpt2Dir],
  ] as const) {
    it(`${name}: the loss is the same and every gradient equals the one without it (within 1e-6 relative)`, async () => {
      const model = await loadModel(dir(), { device: 'cpu' });
      const ids = tensor([[1, 5, 9, 2, 7, 3, 30, 11], [4, 4, 8, 15, 16, 23, 12, 6]], { dtype: 'i32', device: 'cpu' });
      const segments = name.startsWith('llama') ? tensor([[0, 0, 0, 1, 1, 1, 1, 1], [0, 0, 0, 0, 0, 0, 2, 2]], { dtype: 'i32', device: 'cpu' }) : null;
      const plain = gradients(model, ids, segments, false);
      const live = liveTensorCount();
      const recomputed = gradients(model, ids, segments, true);
      expect(recomputed.loss).toBe(plain.loss);
      expect(recomputed.grads.size).toBe(plain.grads.size);
      let worst = 0;
      for (const [param, g] of plain.grads) {
        const other = recomputed.grads.get(param)!;
        const scale = Math.max(...g.map(Math.abs));
        expect(scale, param).toBeGreaterThan(0);
        worst = Math.max(worst, maxRelativeError(other, g));
      }
      expect(worst).toBeLessThanOrEqual(1e-6);
      // The recompute frees what it made: only the new .grad tensors replaced the old ones.
      expect(liveTensorCount()).toBe(live);
      for (const t of [ids, segments]) t?.dispose();
      model.dispose();
    });
  }

  it('gives the same logits, and records nothing, without autograd (inference) and with a KV cache', async () => {
    const model = await loadModel(llamaDir, { device: 'cpu' });
    const ids = tensor([[1, 5, 9, 2]], { dtype: 'i32', device: 'cpu' });
    const a = noGrad(() => model.forward(ids));
    const b = noGrad(() => model.forward(ids, { gradientCheckpointing: true }));
    const cache = createKvCache(model, { batch: 1, maxLength: 8 });
    const c = model.forward(ids, { gradientCheckpointing: true, cache });
    expect(b.toFlatArray()).toEqual(a.toFlatArray());
    expect(c.toFlatArray()).toEqual(a.toFlatArray());
    expect(b.requiresGrad || c.requiresGrad).toBe(false);
    for (const t of [a, b, c, ids]) t.dispose();
    cache.dispose();
    model.dispose();
  });

  it('lowers the peak memory of a training pass of a 12-layer model (each run in its own process)', async () => {
    // d=64, 12 layers, (B, T) = (8, 256): without checkpointing each layer keeps its
    // intermediates (~16 floats per token and channel, ~8 MB a layer here); with it, one
    // (B, T, C) input per layer plus one layer's intermediates during its recompute.
    const dir = path.join(tmp, 'deep');
    const spec = { vocab: 64, hidden: 64, intermediate: 176, layers: 12, heads: 4, kvHeads: 4, headDim: 16, tied: false, qkvBias: false, oBias: false, mlpBias: false, qkNorm: false };
    await writeRandomModel(
      dir,
      { model_type: 'llama', vocab_size: 64, hidden_size: 64, intermediate_size: 176, num_hidden_layers: 12, num_attention_heads: 4, num_key_value_heads: 4, rms_norm_eps: 1e-5 },
      llamaWeightSpecs(spec),
      13,
    );
    const run = (mode: 'on' | 'off') => {
      const child = spawnSync(
        process.execPath,
        ['--import', 'tsx', '--conditions=lmflow-source', 'packages/models/src/test-support/checkpointing-memory-child.ts', dir, '8', '256', mode],
        { cwd: repoRoot, encoding: 'utf8', env: { ...process.env, LMFLOW_DEVICE: 'cpu' } },
      );
      if (child.status !== 0) throw new Error(`child (${mode}) failed: ${child.stderr}`);
      return JSON.parse(child.stdout.trim().split('\n').at(-1)!) as { peakRss: number; loss: number; gradBytes: number };
    };
    const off = run('off');
    const on = run('on');
    expect(on.loss).toBe(off.loss);
    expect(on.gradBytes).toBe(off.gradBytes);
    // Measured: 257 MB without, 164 MB with (the process itself is ~100 MB of it).
    expect(off.peakRss - on.peakRss, `peak RSS ${(off.peakRss / 2 ** 20).toFixed(0)} MB without, ${(on.peakRss / 2 ** 20).toFixed(0)} MB with`).toBeGreaterThan(60 * 2 ** 20);
  });
});
