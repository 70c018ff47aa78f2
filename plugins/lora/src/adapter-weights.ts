/**
 * Reading adapter_model.safetensors against a model: every tensor must belong to a targeted
 * linear module of this model, with the shapes its config.json and the adapter's rank imply,
 * and every targeted module must get its A and B (and DoRA magnitude). Errors name the file
 * and the tensor, so a wrong base model or a truncated adapter is found at load, not as odd text.
 */
import { LoraError } from './lora-error.js';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { loadSafetensors } from '@lmflow/models';
import type { DType, Tensor } from '@lmflow/tensor';
import { ADAPTER_WEIGHTS_FILE, parsePeftTensorName, peftTensorName, type AdapterConfig, type AdapterPart } from './peft-format.js';

export interface AdapterTarget {
  readonly inFeatures: number;
  readonly outFeatures: number;
}

export interface ModuleAdapter {
  /** (r, in) */
  loraA: Tensor;
  /** (out, r) */
  loraB: Tensor;
  /** (out), DoRA only */
  magnitude: Tensor | null;
}

/**
 * Loads the adapter tensors of `targets` (module path -> sizes) from `dir`, converted to
 * `dtype` on `device`. `linears` is every linear module path of the model, to tell "not a
 * module of this model" from "a module the config does not target".
 */
export async function loadAdapterWeights(
  dir: string,
  config: AdapterConfig,
  targets: ReadonlyMap<string, AdapterTarget>,
  linears: ReadonlySet<string>,
  options: { device: string; dtype: DType },
): Promise<Map<string, ModuleAdapter>> {
  const file = path.join(dir, ADAPTER_WEIGHTS_FILE);
  if (!existsSync(file)) {
    const pickle = path.join(dir, 'adapter_model.bin');
    throw new LoraError(
      existsSync(pickle)
        ? `LoRA adapter ${dir}: only adapter_model.bin (a PyTorch pickle) is there; save it as safetensors (PEFT's save_pretrained(safe_serialization=True), the default since PEFT 0.6)`
        : `LoRA adapter ${dir}: no ${ADAPTER_WEIGHTS_FILE}`,
    );
  }
  const { tensors } = await loadSafetensors(file, { device: options.device, dtype: options.dtype });
  const found = new Map<string, Partial<Record<AdapterPart, Tensor>>>();
  try {
    for (const [name, t] of tensors) {
      const parsed = parsePeftTensorName(name);
      if (!parsed) {
        throw new LoraError(`${file}: tensor "${name}" is not a LoRA tensor (expected base_model.model.<module path>.lora_A.weight, .lora_B.weight or .lora_magnitude_vector)`);
      }
      const { module, part } = parsed;
      const target = targets.get(module);
      if (!target) {
        throw new LoraError(
          linears.has(module)
            ? `${file}: tensor "${name}" is for ${module}, which "target_modules" ${JSON.stringify(config.targetModules)} of ${config.file} does not name`
            : `${file}: tensor "${name}" is for ${module}, which is not a linear module of this model (an adapter for another architecture or base model?)`,
        );
      }
      if (part === 'magnitude' && !config.useDora) throw new LoraError(`${file}: tensor "${name}" is a DoRA magnitude, but ${config.file} has "use_dora": false`);
      const expected = part === 'loraA' ? [config.r, target.inFeatures] : part === 'loraB' ? [target.outFeatures, config.r] : [target.outFeatures];
      if (t.shape.length !== expected.length || t.shape.some((d, i) => d !== expected[i])) {
        throw new LoraError(`${file}: tensor "${name}" has shape [${t.shape.join(', ')}], expected [${expected.join(', ')}] (r = ${config.r} in ${config.file}; the module is ${target.outFeatures} x ${target.inFeatures} in this model)`);
      }
      const entry = found.get(module) ?? {};
      if (entry[part]) throw new LoraError(`${file}: two tensors for ${peftTensorName(module, part)}`);
      entry[part] = t;
      found.set(module, entry);
    }
    const adapters = new Map<string, ModuleAdapter>();
    for (const module of targets.keys()) {
      const entry = found.get(module) ?? {};
      const parts: AdapterPart[] = config.useDora ? ['loraA', 'loraB', 'magnitude'] : ['loraA', 'loraB'];
      const missing = parts.filter((p) => !entry[p]);
      if (missing.length > 0) {
        throw new LoraError(`${file}: lacks ${missing.map((p) => `"${peftTensorName(module, p)}"`).join(', ')}, which "target_modules" ${JSON.stringify(config.targetModules)} of ${config.file} implies for this model`);
      }
      adapters.set(module, { loraA: entry.loraA!, loraB: entry.loraB!, magnitude: entry.magnitude ?? null });
    }
    return adapters;
  } catch (error) {
    for (const t of tensors.values()) t.dispose();
    throw error;
  }
}
