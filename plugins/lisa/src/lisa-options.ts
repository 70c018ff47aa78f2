/** `lmflow finetune` flags of LISA, with LMFlow's names and defaults. */
import { defineOptions, type PluginOption } from '@lmflow/core';
import { lisa } from './lisa-plugin.js';

export const lisaOptions = defineOptions('LISA', {
  use_lisa: {
    type: 'boolean',
    default: false,
    description: 'Layerwise importance sampling: train only --lisa_activated_layers decoder layers at a time (drawn at random with --seed, redrawn every --lisa_interval_steps steps); embeddings and the LM head always train.',
  },
  lisa_activated_layers: { type: 'integer', min: 1, default: 2, description: 'Decoder layers that train at a time with --use_lisa.' },
  lisa_interval_steps: { type: 'integer', min: 1, default: 20, description: 'Optimizer steps between two draws of the active layers with --use_lisa.' },
});

/** The LISA plugin for a run's config, or false without --use_lisa. */
export function lisaFromConfig(config: Readonly<Record<string, unknown>>): PluginOption {
  if (config.use_lisa !== true) return false;
  return lisa({
    activatedLayers: (config.lisa_activated_layers as number | undefined) ?? 2,
    intervalSteps: (config.lisa_interval_steps as number | undefined) ?? 20,
    ...(typeof config.seed === 'number' ? { seed: config.seed } : {}),
  });
}
