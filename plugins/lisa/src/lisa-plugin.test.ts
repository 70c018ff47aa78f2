import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { createRuntime, type Plugin } from '@lmflow/core';
import { finetune, type FinetuneConfig } from '@lmflow/train';
import { lisa, type LisaPlugin } from './lisa-plugin.js';
import { lisaFromConfig } from './lisa-options.js';
import { sampleLayers } from './layer-sampler.js';
import { alpacaSubset, finetuneConfig, stories260K, tempDir, writeRandomGpt2 } from './test-support/fixtures.js';

const quiet = { log: () => undefined, progressStream: { write: () => true } };
let root: string;
let dataset: string;
let gpt2: string;

beforeAll(async () => {
  root = tempDir('lisa');
  dataset = await alpacaSubset(root, 40);
  gpt2 = await writeRandomGpt2(path.join(root, 'gpt2'), 6);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

interface StepRecord {
  step: number;
  /** Decoder layers whose parameters changed in this step. */
  changedLayers: number[];
  /** Whether every parameter outside the decoder layers changed. */
  outsideChanged: boolean;
  /** Layers holding optimizer state after this step. */
  stateLayers: number[];
  stateOutside: number;
}

/** Watches every optimizer step: which parameters changed, and who holds optimizer state. */
function observer(layerOf: (name: string) => number): { plugin: Plugin; steps: StepRecord[] } {
  const steps: StepRecord[] = [];
  let before = new Map<string, number[]>();
  const snapshot = (params: Iterable<[string, { toFlatArray(): number[] }]>) => new Map([...params].map(([n, t]) => [n, t.toFlatArray()]));
  const plugin: Plugin = {
    name: 'observer',
    apply(rt) {
      rt.trainer.hooks.beforeRun.tapPromise('observer', async (ctx) => void (before = snapshot(ctx.model.namedParameters())));
      rt.trainer.hooks.afterStep.tap({ name: 'observer', stage: -300 }, (ctx) => {
        const after = snapshot(ctx.model.namedParameters());
        const changed = new Set<number>();
        let outsideChanged = true;
        for (const [name, values] of after) {
          const moved = values.some((v, i) => v !== before.get(name)![i]);
          const layer = layerOf(name);
          if (layer >= 0 && moved) changed.add(layer);
          if (layer < 0 && !moved) outsideChanged = false;
        }
        const stateNames = (ctx.optimizer as unknown as { stateNames(): string[] }).stateNames();
        const stateLayers = [...new Set(stateNames.map(layerOf).filter((l) => l >= 0))].sort((a, b) => a - b);
        steps.push({ step: ctx.state.step, changedLayers: [...changed].sort((a, b) => a - b), outsideChanged, stateLayers, stateOutside: stateNames.filter((n) => layerOf(n) < 0).length });
        before = after;
      });
    },
  };
  return { plugin, steps };
}

async function runLisa(model: string, extra: string[], layerOf: (name: string) => number) {
  const out = path.join(tempDir('lisa-run'), 'out');
  const config = finetuneConfig([
    '--model_name_or_path', model, '--dataset_path', dataset, '--output_dir', out, '--use_lisa',
    '--block_size', '64', '--per_device_train_batch_size', '4', '--num_train_epochs', '1', '--learning_rate', '1e-3',
    '--logging_steps', '5', ...extra,
  ]);
  const plugin = lisaFromConfig(config) as LisaPlugin;
  const watch = observer(layerOf);
  const result = await finetune(config as unknown as FinetuneConfig, { ...quiet, runtime: createRuntime({ plugins: [plugin, watch.plugin] }) });
  rmSync(path.dirname(out), { recursive: true, force: true });
  return { result, plugin, steps: watch.steps };
}

const llamaLayer = (name: string) => Number(/^model\.layers\.(\d+)\./.exec(name)?.[1] ?? -1);
const gpt2Layer = (name: string) => Number(/^transformer\.h\.(\d+)\./.exec(name)?.[1] ?? -1);

/** The layers drawn for each optimizer step (1-based) from the plugin's switches. */
function activeAt(plugin: LisaPlugin, step: number): readonly number[] {
  return [...plugin.history()].reverse().find((s) => s.step < step)!.layers;
}

describe('lisa plugin', () => {
  for (const [arch, model, layerOf, layers] of [
    ['llama (stories260K, 5 layers)', () => stories260K, llamaLayer, 5],
    ['gpt2 (6 blocks)', () => gpt2, gpt2Layer, 6],
  ] as const) {
    it(`${arch}: only the N drawn layers (plus everything outside the layers) change, redrawn every K steps, with their optimizer state only`, async () => {
      const { result, plugin, steps } = await runLisa(model(), ['--lisa_activated_layers', '2', '--lisa_interval_steps', '3', '--seed', '9'], layerOf);
      expect(result.status).toBe('completed');
      expect(steps).toHaveLength(10); // 40 samples / 4
      // A draw before the first step and after every 3rd.
      expect(plugin.history().map((s) => s.step)).toEqual([0, 3, 6, 9]);
      expect(plugin.history().map((s) => s.layers)).toEqual([0, 1, 2, 3].map((p) => sampleLayers(9, p, layers, 2)));
      for (const s of steps) {
        const active = activeAt(plugin, s.step);
        expect(s.changedLayers, `step ${s.step}`).toEqual(active);
        expect(s.outsideChanged, `step ${s.step}`).toBe(true);
        // Optimizer state: the active layers' only (frozen layers' state was released).
        expect(s.stateLayers, `step ${s.step}`).toEqual(active);
        expect(s.stateOutside).toBeGreaterThan(0);
      }
      // Over the run the draws covered more than one set of layers.
      expect(new Set(plugin.history().map((s) => s.layers.join())).size).toBeGreaterThan(1);
    });
  }

  it('the same seed gives the same sequence of layer sets; another seed another one', async () => {
    const a = (await runLisa(stories260K, ['--lisa_interval_steps', '2', '--seed', '4', '--max_steps', '6'], llamaLayer)).plugin.history();
    const b = (await runLisa(stories260K, ['--lisa_interval_steps', '2', '--seed', '4', '--max_steps', '6'], llamaLayer)).plugin.history();
    expect(b).toEqual(a);
    const sequence = (seed: number) => [0, 1, 2, 3].map((p) => sampleLayers(seed, p, 5, 2).join()).join(' | ');
    expect(sequence(5)).not.toBe(sequence(4));
  });

  it('draws every layer equally often, N distinct layers at a time', () => {
    const counts = new Array(8).fill(0);
    for (let p = 0; p < 4000; p++) {
      const drawn = sampleLayers(42, p, 8, 3);
      expect(new Set(drawn).size).toBe(3);
      for (const l of drawn) counts[l]++;
    }
    // 1500 expected per layer; the binomial standard deviation is ~34.
    for (const c of counts) expect(Math.abs(c - 1500)).toBeLessThan(170);
  });

  it('names the flag when N exceeds the number of layers, and checks its options', async () => {
    const out = path.join(tempDir('lisa-bad'), 'out');
    const config = finetuneConfig(['--model_name_or_path', stories260K, '--dataset_path', dataset, '--output_dir', out, '--use_lisa', '--lisa_activated_layers', '6']);
    await expect(finetune(config as unknown as FinetuneConfig, { ...quiet, runtime: createRuntime({ plugins: [lisaFromConfig(config)] }) })).rejects.toThrow(
      /--lisa_activated_layers is 6, but the llama model has 5 decoder layers; expected at most 5/,
    );
    expect(() => lisa({ intervalSteps: 0 })).toThrow(/intervalSteps \(--lisa_interval_steps\) is 0, expected an integer >= 1/);
    expect(lisaFromConfig({ use_lisa: false })).toBe(false);
  });
});
