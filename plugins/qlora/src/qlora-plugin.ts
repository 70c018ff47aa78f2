/**
 * The QLoRA plugin: as the model is built, every linear layer of the decoder layers (all of
 * them, as QLoRA quantizes; lm_head and the embeddings stay in full precision, as
 * bitsandbytes leaves them) is replaced by an NF4 linear, and its f32 weight freed. LoRA
 * adapters then wrap the NF4 linears: use it with @lmflow/plugin-lora (`lmflow finetune
 * --use_qlora` turns LoRA on by itself).
 *
 *   const runtime = createRuntime({ plugins: [qlora(), lora({ targetModules: 'all-linear' })] });
 *
 * Hooks tapped:
 *   model.wrapModule(linear)  at STAGE_EARLY, so the NF4 linear is what LoRA (STAGE_NORMAL) wraps
 *   model.afterLoadWeights    hands the freed f32 buffers back to the garbage collector
 *   model.stateDict           at STAGE_LAST: a whole-model save (no adapter plugin narrowed
 *                             it) gets the NF4 weights back, dequantized, under their names
 *   trainer.afterRun          frees what that save dequantized
 */
import { emptyHostCache, noGrad, transpose, contiguous, type Tensor } from '@lmflow/tensor';
import { STAGE_EARLY, STAGE_LAST, type LinearModule, type ModelHandle, type Plugin, type WrapModuleContext } from '@lmflow/core';
import { createNf4Linear, NF4_PART_NAMES, type Nf4Linear } from './nf4-linear.js';

export const QLORA_PLUGIN_NAME = 'qlora';

export interface QloraOptions {
  /**
   * Which linear modules to store in NF4. @default every linear inside a decoder layer
   * (`context.layer >= 0`): attention and MLP projections, as QLoRA does
   */
  include?: (module: LinearModule, context: WrapModuleContext) => boolean;
}

/** What the plugin did to the model it built last. */
export interface QloraSummary {
  /** Modules stored in NF4, by Hugging Face path. */
  readonly modules: readonly string[];
  /** Weight elements stored in NF4. */
  readonly elements: number;
  /** Bytes the NF4 parts take (codes, absmax codes, scales). */
  readonly bytes: number;
}

export interface QloraPlugin extends Plugin {
  /** The modules quantized so far and their size. */
  summary(): QloraSummary;
}

// Checkpoints of these model types store their linear weights (in, out) (transformers'
// Conv1D); the architecture transposes them back on save, so a dequantized weight must be too.
const CONV1D_MODEL_TYPES = new Set(['gpt2']);

const PART_SUFFIXES = Object.values(NF4_PART_NAMES);

export function qlora(options: QloraOptions = {}): QloraPlugin {
  if (options.include !== undefined && typeof options.include !== 'function') {
    throw new Error(`${QLORA_PLUGIN_NAME} options: include must be a function (module, context) => boolean, got ${typeof options.include}`);
  }
  const include = options.include ?? ((_module: LinearModule, context: WrapModuleContext) => context.layer >= 0);
  const quantized: Nf4Linear[] = [];
  let dequantizedForSave: Tensor[] = [];
  const freeSaved = () => {
    for (const t of dequantizedForSave) t.dispose();
    dequantizedForSave = [];
  };

  return {
    name: QLORA_PLUGIN_NAME,
    summary() {
      const live = quantized.filter((m) => !m.nf4.isDisposed);
      return {
        modules: live.map((m) => m.name),
        elements: live.reduce((n, m) => n + m.nf4.shape[0] * m.nf4.shape[1], 0),
        bytes: live.reduce((n, m) => n + m.nf4.codes.size + m.nf4.absmaxCodes.size + m.nf4.absmaxScales.size * 4, 0),
      };
    },
    apply(runtime) {
      const hooks = runtime.model.hooks;
      hooks.wrapModule.for('linear').tap({ name: QLORA_PLUGIN_NAME, stage: STAGE_EARLY }, (module, context) => {
        if (module.kind !== 'linear' || !include(module, context)) return module;
        const nf4 = createNf4Linear(module);
        quantized.push(nf4);
        return nf4;
      });

      // Each freed f32 weight went back to the tensor package's buffer cache, which keeps
      // buffers for reuse by size; activations rarely have those sizes, so the cache would
      // hold the whole f32 model. Emptying it lets the garbage collector return that memory.
      hooks.afterLoadWeights.tapPromise(QLORA_PLUGIN_NAME, async () => {
        emptyHostCache();
      });

      hooks.stateDict.tap({ name: QLORA_PLUGIN_NAME, stage: STAGE_LAST }, (tensors, { model }) => {
        freeSaved();
        const ours = modulesOf(model, quantized);
        const partNames = ours.flatMap((m) => PART_SUFFIXES.map((suffix) => `${m.name}.${suffix}`));
        // An adapter save (LoRA's) holds adapters only; a whole-model save still holds the
        // parts, which no Hugging Face tool reads: they become the dequantized weight.
        if (!partNames.some((name) => tensors.has(name))) return tensors;
        const transposed = CONV1D_MODEL_TYPES.has(model.config.model_type);
        for (const m of ours) {
          for (const suffix of PART_SUFFIXES) tensors.delete(`${m.name}.${suffix}`);
          const weight = m.dequantizeWeight();
          const stored = transposed ? noGrad(() => contiguous(transpose(weight))) : weight;
          if (stored !== weight) weight.dispose();
          dequantizedForSave.push(stored);
          tensors.set(`${m.name}.weight`, stored);
        }
        return tensors;
      });

      runtime.trainer.hooks.afterRun.tapPromise(QLORA_PLUGIN_NAME, async () => freeSaved());
    },
  };
}

/**
 * The NF4 linears of this model (a runtime may build several), found through its parameters:
 * wrapped by LoRA, an NF4 linear is no longer among model.modules(), but its codes are listed.
 */
function modulesOf(model: ModelHandle, quantized: readonly Nf4Linear[]): Nf4Linear[] {
  const byCodes = new Map(quantized.map((m) => [m.nf4.codes, m]));
  const found: Nf4Linear[] = [];
  for (const [, t] of model.namedParameters()) {
    const m = byCodes.get(t);
    if (m) found.push(m);
  }
  return found;
}
