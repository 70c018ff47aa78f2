/**
 * The LISA plugin (Layerwise Importance Sampled AdamW, Pan et al. 2024, as LMFlow runs it):
 * every K optimizer steps, all decoder layers are frozen and N of them, drawn at random,
 * unfrozen. Everything outside the decoder layers (embeddings, final norm, LM head) always
 * trains. Frozen layers get no gradients, and their optimizer state is released, so the
 * memory of gradients and optimizer state tracks N rather than the depth of the model.
 *
 *   const runtime = createRuntime({ plugins: [lisa({ activatedLayers: 2, intervalSteps: 20 })] });
 *
 * Layers are found without per-model tables: each module the model builds comes through
 * model.wrapModule with the index of its decoder layer, which gives the layer's name prefix
 * (`model.layers.3.`, `transformer.h.3.`); every trainable parameter under a prefix belongs to
 * that layer (norm weights included).
 *
 * Hooks tapped:
 *   model.wrapModule (linear, attention, embedding, mlp)  at STAGE_LAST: learns the layer prefixes
 *   model.trainableParams  at STAGE_LAST: groups the final trainable set by layer
 *   trainer.beforeRun      picks the first layers (or, on resume, those of the current period)
 *   trainer.afterStep      picks new layers every K steps
 */
import { STAGE_LAST, type ModuleKind, type Optimizer, type Plugin, type TrainerContext } from '@lmflow/core';
import type { Tensor } from '@lmflow/tensor';
import { sampleLayers } from './layer-sampler.js';

export const LISA_PLUGIN_NAME = 'lisa';

export interface LisaOptions {
  /** Decoder layers that train at a time (LMFlow's lisa_activated_layers). @default 2 */
  activatedLayers?: number;
  /** Optimizer steps between two draws of the active layers (LMFlow's lisa_interval_steps). @default 20 */
  intervalSteps?: number;
  /** Seed of the draws. @default the run's --seed (42 when the run has none) */
  seed?: number;
}

/** One draw: from optimizer step `step` on, these layers train. */
export interface LisaSwitch {
  readonly step: number;
  readonly layers: readonly number[];
}

export interface LisaPlugin extends Plugin {
  /** The layers that train now (empty before the run starts). */
  activeLayers(): readonly number[];
  /** Every draw of the current run, in order. */
  history(): readonly LisaSwitch[];
}

const MODULE_KINDS: readonly ModuleKind[] = ['linear', 'attention', 'embedding', 'mlp'];

export function lisa(options: LisaOptions = {}): LisaPlugin {
  const where = `${LISA_PLUGIN_NAME} options`;
  const activatedLayers = options.activatedLayers ?? 2;
  const intervalSteps = options.intervalSteps ?? 20;
  if (!(Number.isInteger(activatedLayers) && activatedLayers >= 1)) throw new Error(`${where}: activatedLayers (--lisa_activated_layers) is ${activatedLayers}, expected an integer >= 1`);
  if (!(Number.isInteger(intervalSteps) && intervalSteps >= 1)) throw new Error(`${where}: intervalSteps (--lisa_interval_steps) is ${intervalSteps}, expected an integer >= 1`);
  if (options.seed !== undefined && !(Number.isInteger(options.seed) && options.seed >= 0)) throw new Error(`${where}: seed is ${options.seed}, expected an integer >= 0`);

  /** Layer name prefixes ("model.layers.3.") and their index, from the modules as built. */
  const prefixes = new Map<string, number>();
  /** The trainable parameters of each decoder layer. */
  let byLayer = new Map<number, [string, Tensor][]>();
  let layerCount = 0;
  let active: number[] = [];
  let switches: LisaSwitch[] = [];
  let seed = 0;

  const layerOf = (name: string): number => {
    let best = -1;
    let bestLength = 0;
    for (const [prefix, layer] of prefixes) {
      if (prefix.length > bestLength && name.startsWith(prefix)) {
        best = layer;
        bestLength = prefix.length;
      }
    }
    return best;
  };

  const activate = (step: number, optimizer: Optimizer | null) => {
    const period = Math.floor(step / intervalSteps);
    active = sampleLayers(seed, period, layerCount, activatedLayers);
    switches.push({ step, layers: active });
    const on = new Set(active);
    const release = (optimizer as { releaseState?: (name: string) => boolean } | null)?.releaseState;
    for (const [layer, params] of byLayer) {
      for (const [name, t] of params) {
        t.requiresGrad = on.has(layer);
        if (on.has(layer)) continue;
        t.grad?.dispose();
        t.grad = null;
        // The optimizer's moments of a frozen layer would sit unused until the layer is drawn
        // again; LMFlow's LISA starts a reactivated layer's state afresh as well.
        release?.call(optimizer, name);
      }
    }
  };

  return {
    name: LISA_PLUGIN_NAME,
    activeLayers: () => active,
    history: () => switches,
    apply(runtime) {
      for (const kind of MODULE_KINDS) {
        runtime.model.hooks.wrapModule.for(kind).tap({ name: LISA_PLUGIN_NAME, stage: STAGE_LAST }, (module, context) => {
          if (context.layer < 0) return module;
          const marker = `.${context.layer}.`;
          const at = `${module.name}.`.indexOf(marker);
          if (at < 0) {
            throw new Error(`module "${module.name}" is built for decoder layer ${context.layer}, but its name has no ".${context.layer}." component to find the layer's parameters by`);
          }
          prefixes.set(module.name.slice(0, at + marker.length), context.layer);
          return module;
        });
      }

      runtime.model.hooks.trainableParams.tap({ name: LISA_PLUGIN_NAME, stage: STAGE_LAST }, (params, { model }) => {
        byLayer = new Map();
        for (const [name, t] of params) {
          const layer = layerOf(name);
          if (layer < 0) continue;
          if (!byLayer.has(layer)) byLayer.set(layer, []);
          byLayer.get(layer)!.push([name, t]);
        }
        layerCount = new Set(prefixes.values()).size;
        if (layerCount === 0) {
          throw new Error(`found no decoder layers in this ${model.config.model_type} model (was it loaded with this runtime? loadModel(..., { runtime }))`);
        }
        if (activatedLayers > layerCount) {
          throw new Error(`--lisa_activated_layers is ${activatedLayers}, but the ${model.config.model_type} model has ${layerCount} decoder layers; expected at most ${layerCount}`);
        }
        if (byLayer.size === 0) throw new Error('no trainable parameter lies in a decoder layer: LISA has nothing to switch (another plugin froze them all?)');
        return params;
      });

      runtime.trainer.hooks.beforeRun.tapPromise(LISA_PLUGIN_NAME, async (context: TrainerContext) => {
        seed = options.seed ?? (typeof context.options.seed === 'number' ? context.options.seed : 42);
        switches = [];
        activate(context.state.step, context.optimizer);
      });

      runtime.trainer.hooks.afterStep.tap(LISA_PLUGIN_NAME, (context) => {
        if (context.state.step % intervalSteps === 0) activate(context.state.step, context.optimizer);
      });
    },
  };
}
