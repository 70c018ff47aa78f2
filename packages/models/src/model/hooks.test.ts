/** The model hooks at their points in loadModel and saveModel, with a real runtime and plugins. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { mul, tensor, type Tensor } from '@lmflow/tensor';
import { createRuntime, type LinearModule, type Module, type ModelConfig, type Plugin, type WrapModuleContext } from '@lmflow/core';
import { loadModel, loadSafetensors, saveModel } from '../index.js';
import { stories260K } from '../test-support/paths.js';

const ids = tensor([[1, 403, 407, 261, 378]], { dtype: 'i32' });
let tmp: string;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'lmflow-hooks-'));
});

afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** Records every hook call; wraps linear modules with a call counter that delegates. */
function recorder() {
  const seen: { kind: string; name: string; layer: number }[] = [];
  const configs: ModelConfig[] = [];
  const loaded: number[] = [];
  let linearCalls = 0;
  const plugin: Plugin = {
    name: 'recorder',
    apply(runtime) {
      runtime.model.hooks.configure.tap('recorder', (config) => {
        configs.push(config);
        return { ...config, recorded: true };
      });
      for (const kind of ['linear', 'attention', 'embedding', 'mlp'] as const) {
        runtime.model.hooks.wrapModule.for(kind).tap('recorder', (module: Module, context: WrapModuleContext) => {
          seen.push({ kind, name: module.name, layer: context.layer });
          if (module.kind !== 'linear') return module;
          const inner = module;
          const wrapped: LinearModule = { ...inner, forward: (x) => (linearCalls++, inner.forward(x)) };
          return wrapped;
        });
      }
      runtime.model.hooks.afterLoadWeights.tapPromise('recorder', async (model) => {
        loaded.push([...model.namedParameters()].length);
      });
    },
  };
  return { plugin, seen, configs, loaded, calls: () => linearCalls };
}

describe('model hooks', () => {
  it('configure sees config.json; wrapModule sees every module with its layer; afterLoadWeights sees the model', async () => {
    const rec = recorder();
    const runtime = createRuntime({ plugins: [rec.plugin] });
    const model = await loadModel(stories260K, { device: 'cpu', runtime });
    expect(rec.configs).toHaveLength(1);
    expect(rec.configs[0]).toMatchObject({ model_type: 'llama', hidden_size: 64 });
    expect(model.config.recorded).toBe(true);
    const count = (kind: string) => rec.seen.filter((s) => s.kind === kind).length;
    // 5 layers x (q, k, v, o, gate, up, down) + lm_head; one attention and one mlp per layer.
    expect([count('embedding'), count('linear'), count('attention'), count('mlp')]).toEqual([1, 36, 5, 5]);
    expect(rec.seen).toContainEqual({ kind: 'linear', name: 'model.layers.3.mlp.up_proj', layer: 3 });
    expect(rec.seen).toContainEqual({ kind: 'linear', name: 'lm_head', layer: -1 });
    expect(rec.seen).toContainEqual({ kind: 'attention', name: 'model.layers.4.self_attn', layer: 4 });
    expect(rec.loaded).toEqual([47]);

    // The wrapped modules are the ones the forward pass runs, and delegating changes nothing.
    const plain = await loadModel(stories260K, { device: 'cpu' });
    expect(model.forward(ids).toFlatArray()).toEqual(plain.forward(ids).toFlatArray());
    expect(rec.calls()).toBe(36);
    plain.dispose();
    model.dispose();
  });

  it('a replaced module changes the result (lm_head scaled by 2)', async () => {
    const doubleHead: Plugin = {
      name: 'double-head',
      apply(runtime) {
        runtime.model.hooks.wrapModule.for('linear').tap('double-head', (module) =>
          module.name === 'lm_head' ? { ...(module as LinearModule), forward: (x: Tensor) => mul((module as LinearModule).forward(x), 2) } : module,
        );
      },
    };
    const model = await loadModel(stories260K, { device: 'cpu', runtime: createRuntime({ plugins: [doubleHead] }) });
    const plain = await loadModel(stories260K, { device: 'cpu' });
    expect(model.forward(ids).toFlatArray()).toEqual(plain.forward(ids).toFlatArray().map((v) => v * 2));
    model.dispose();
    plain.dispose();
  });

  it('configure can change what is built (rope_theta), and the model uses it', async () => {
    const theta: Plugin = {
      name: 'theta',
      apply(runtime) {
        runtime.model.hooks.configure.tap('theta', (config) => ({ ...config, rope_theta: 20000 }));
      },
    };
    const model = await loadModel(stories260K, { device: 'cpu', runtime: createRuntime({ plugins: [theta] }) });
    expect(model.config.rope_theta).toBe(20000);
    const plain = await loadModel(stories260K, { device: 'cpu' });
    expect(model.forward(ids).toFlatArray()).not.toEqual(plain.forward(ids).toFlatArray());
    model.dispose();
    plain.dispose();
  });

  it('a plugin failing in a hook is named in the error', async () => {
    const broken: Plugin = {
      name: 'broken',
      apply(runtime) {
        runtime.model.hooks.wrapModule.for('mlp').tap('broken', () => {
          throw new Error('no mlp for you');
        });
      },
    };
    await expect(loadModel(stories260K, { runtime: createRuntime({ plugins: [broken] }) })).rejects.toThrow(
      'plugin "broken" failed in model.hooks.wrapModule(mlp): no mlp for you',
    );
    const late: Plugin = {
      name: 'late',
      apply(runtime) {
        runtime.model.hooks.afterLoadWeights.tapPromise('late', async () => {
          throw new Error('cannot quantize');
        });
      },
    };
    await expect(loadModel(stories260K, { runtime: createRuntime({ plugins: [late] }) })).rejects.toThrow(
      'plugin "late" failed in model.hooks.afterLoadWeights: cannot quantize',
    );
  });

  it('saveModel passes the tensors through model.hooks.stateDict', async () => {
    const adapterOnly: Plugin = {
      name: 'adapter-only',
      apply(runtime) {
        runtime.model.hooks.stateDict.tap('adapter-only', (tensors) => new Map([...tensors].filter(([name]) => name.includes('layers.0.'))));
      },
    };
    const model = await loadModel(stories260K, { device: 'cpu', runtime: createRuntime({ plugins: [adapterOnly] }) });
    const out = path.join(tmp, 'state-dict');
    await saveModel(model, out);
    const { tensors } = await loadSafetensors(path.join(out, 'model.safetensors'));
    expect([...tensors.keys()].every((n) => n.startsWith('model.layers.0.'))).toBe(true);
    expect(tensors.size).toBe(9);
    model.dispose();
  });
});
