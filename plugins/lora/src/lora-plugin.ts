/**
 * The LoRA plugin: wraps the targeted linear layers with adapters as the model is built,
 * trains only the adapters, and saves them as a PEFT adapter folder. With `adapterPath` it
 * loads an existing adapter (inference, or continued training).
 *
 *   const runtime = createRuntime({ plugins: [lora({ r: 16, alpha: 32, targetModules: 'all-linear' })] });
 *   await finetune(config, { runtime });            // output_dir: adapter_config.json + adapter_model.safetensors
 *   const generator = await loadGenerator(base, { runtime: createRuntime({ plugins: [lora({ adapterPath: out })] }) });
 *
 * Hooks tapped: model.wrapModule(linear), model.afterLoadWeights, model.trainableParams,
 * model.stateDict.
 */
import { LoraError } from './lora-error.js';
import { copy_, noGrad, type Tensor } from '@lmflow/tensor';
import type { ModelHandle, Plugin } from '@lmflow/core';
import type { AdapterFiles } from '@lmflow/models';
import { createLoraLinear, type LoraLinear } from './lora-linear.js';
import { linearWeights } from './model-linears.js';
import { loadAdapterWeights, type AdapterTarget } from './adapter-weights.js';
import { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, adapterConfigJson, peftTensorName, readAdapterConfig, type AdapterConfig, type AdapterSettings } from './peft-format.js';
import { checkTargetModules, isAllLinear, isTargeted, resolveTargetModules, shortName, type TargetModules } from './target-modules.js';

export const LORA_PLUGIN_NAME = 'lora';

export interface LoraOptions {
  /** Rank of the update B @ A. @default 8 (from the adapter with adapterPath) */
  r?: number;
  /** Scaling numerator: the update is multiplied by alpha / r. @default 32 (LMFlow's; from the adapter with adapterPath) */
  alpha?: number;
  /** Dropout on the adapter's input while training. @default 0.1 (LMFlow's; the adapter's lora_dropout with adapterPath) */
  dropout?: number;
  /**
   * Linear modules to adapt: names matched as PEFT does (q_proj matches every
   * *.q_proj), one regular expression over the whole module path, or "all-linear" (every
   * linear but lm_head). @default the attention projections: q_proj, k_proj, v_proj, o_proj
   * (llama, mistral, qwen2, qwen3); c_attn, attn.c_proj (gpt2)
   */
  targetModules?: TargetModules;
  /** Weight-decomposed LoRA (DoRA): also learn a magnitude per output feature. @default false */
  useDora?: boolean;
  /** Scale by alpha / sqrt(r) instead of alpha / r (rsLoRA). @default false */
  useRslora?: boolean;
  /**
   * A PEFT adapter folder (adapter_config.json + adapter_model.safetensors) to load onto the
   * base model; its config sets r, alpha, target modules and DoRA. @default none: new adapters
   */
  adapterPath?: string;
  /** Written to adapter_config.json "base_model_name_or_path". @default the model as loadModel was given it */
  baseModelNameOrPath?: string;
}

/** Creates the LoRA plugin; options are checked here, before any model is loaded. */
export function lora(options: LoraOptions = {}): Plugin {
  const adapter = options.adapterPath !== undefined ? readAdapterConfig(options.adapterPath) : null;
  const settings = resolveSettings(options, adapter);
  /** Every adapter this plugin created, by its A tensor: a model's adapters are found through its parameters. */
  const byLoraA = new WeakMap<Tensor, LoraLinear>();
  const sourceOf = new WeakMap<LoraLinear, string>();

  const adaptersOf = (model: ModelHandle): LoraLinear[] => {
    const found: LoraLinear[] = [];
    for (const [, t] of model.namedParameters()) {
      const module = byLoraA.get(t);
      if (module) found.push(module);
    }
    return found;
  };
  const targetsFor = (model: ModelHandle) => resolveTargetModules(settings.targetModules, model.config.model_type);

  return {
    name: LORA_PLUGIN_NAME,
    apply(runtime) {
      const hooks = runtime.model.hooks;
      hooks.wrapModule.for('linear').tap(LORA_PLUGIN_NAME, (module, context) => {
        if (module.kind !== 'linear') return module;
        if (!isTargeted(module.name, resolveTargetModules(settings.targetModules, context.config.model_type))) return module;
        const wrapped = createLoraLinear(module, settings);
        byLoraA.set(wrapped.loraA, wrapped);
        sourceOf.set(wrapped, context.source);
        return wrapped;
      });

      hooks.afterLoadWeights.tapPromise(LORA_PLUGIN_NAME, async (model) => {
        const adapters = adaptersOf(model);
        const linears = [...linearWeights(model).keys()];
        if (adapters.length === 0) {
          const names = [...new Set(linears.map(shortName))].join(', ');
          throw new LoraError(
            `target modules ${JSON.stringify(targetsFor(model))}${adapter ? ` (of ${adapter.file})` : ''} match no linear module of this ${model.config.model_type} model; its linear modules are named ${names}`,
          );
        }
        if (!adapter) return;
        const first = adapters[0]!.loraA;
        const targets = new Map<string, AdapterTarget>(adapters.map((m) => [m.name, m]));
        const loaded = await loadAdapterWeights(options.adapterPath!, adapter, targets, new Set(linears), { device: first.device, dtype: first.dtype });
        noGrad(() => {
          for (const module of adapters) {
            const weights = loaded.get(module.name)!;
            copy_(module.loraA, weights.loraA);
            copy_(module.loraB, weights.loraB);
            if (module.magnitude && weights.magnitude) copy_(module.magnitude, weights.magnitude);
          }
        });
        for (const weights of loaded.values()) for (const t of [weights.loraA, weights.loraB, weights.magnitude]) t?.dispose();
      });

      // Only the adapters train: the base weights get requiresGrad false, so autograd
      // neither computes nor stores their gradients.
      hooks.trainableParams.tap(LORA_PLUGIN_NAME, (params, { model }) => {
        const adapterTensors = new Set(adaptersOf(model).flatMap((m) => [m.loraA, m.loraB, ...(m.magnitude ? [m.magnitude] : [])]));
        return params.filter(([, t]) => adapterTensors.has(t));
      });

      hooks.stateDict.tap(LORA_PLUGIN_NAME, (_tensors, { model }) => {
        const adapters = adaptersOf(model);
        const tensors = new Map<string, Tensor>();
        for (const m of adapters) {
          tensors.set(peftTensorName(m.name, 'loraA'), m.loraA);
          tensors.set(peftTensorName(m.name, 'loraB'), m.loraB);
          if (m.magnitude) tensors.set(peftTensorName(m.name, 'magnitude'), m.magnitude);
        }
        const targets = targetsFor(model);
        const adapterFiles: AdapterFiles = {
          weightsFile: ADAPTER_WEIGHTS_FILE,
          configFile: ADAPTER_CONFIG_FILE,
          config: adapterConfigJson({
            ...settings,
            // PEFT writes "all-linear" out as the names it matched.
            targetModules: isAllLinear(targets) ? [...new Set(adapters.map((m) => shortName(m.name)))].sort() : targets,
            baseModelNameOrPath: options.baseModelNameOrPath ?? adapter?.baseModelNameOrPath ?? (adapters[0] ? (sourceOf.get(adapters[0]) ?? null) : null),
            fanInFanOut: model.config.model_type === 'gpt2',
          }),
        };
        return Object.assign(tensors, { adapterFiles });
      });
    },
  };
}

interface ResolvedSettings extends Omit<AdapterSettings, 'targetModules'> {
  /** undefined: the architecture's default, resolved when the model is built. */
  targetModules: TargetModules | undefined;
}

function resolveSettings(options: LoraOptions, adapter: AdapterConfig | null): ResolvedSettings {
  const where = `${LORA_PLUGIN_NAME} options`;
  const { r, alpha, dropout } = options;
  if (r !== undefined && !(Number.isInteger(r) && r >= 1)) throw new LoraError(`${where}: r is ${r}, expected a positive integer`);
  if (alpha !== undefined && !(typeof alpha === 'number' && alpha > 0)) throw new LoraError(`${where}: alpha is ${alpha}, expected a positive number`);
  if (dropout !== undefined && !(typeof dropout === 'number' && dropout >= 0 && dropout < 1)) throw new LoraError(`${where}: dropout is ${dropout}, expected a number in [0, 1)`);
  if (options.targetModules !== undefined) checkTargetModules(options.targetModules, `${where}: targetModules`);
  if (!adapter) {
    return {
      r: r ?? 8,
      alpha: alpha ?? 32,
      dropout: dropout ?? 0.1,
      targetModules: options.targetModules,
      useDora: options.useDora ?? false,
      useRslora: options.useRslora ?? false,
    };
  }
  // The adapter's config decides its shape; an option that says otherwise is a mistake.
  const conflicts: [string, unknown, string, unknown][] = [
    ['r', r, 'r', adapter.r],
    ['alpha', alpha, 'lora_alpha', adapter.alpha],
    ['targetModules', options.targetModules, 'target_modules', adapter.targetModules],
    ['useDora', options.useDora, 'use_dora', adapter.useDora],
    ['useRslora', options.useRslora, 'use_rslora', adapter.useRslora],
  ];
  for (const [option, given, field, saved] of conflicts) {
    if (given !== undefined && JSON.stringify(given) !== JSON.stringify(saved)) {
      throw new LoraError(`${where}: ${option} is ${JSON.stringify(given)}, but the adapter's ${adapter.file} has "${field}": ${JSON.stringify(saved)}; leave ${option} unset to use the adapter's`);
    }
  }
  return { r: adapter.r, alpha: adapter.alpha, dropout: dropout ?? adapter.dropout, targetModules: adapter.targetModules, useDora: adapter.useDora, useRslora: adapter.useRslora };
}
