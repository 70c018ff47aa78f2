/**
 * The plugins `lmflow finetune` switches on by flag (--use_lora, --use_qlora, --use_lisa,
 * --gradient_checkpointing, ...): each entry brings its option group, which joins the
 * command's flags and --help, and a factory that reads the resolved config and returns the
 * plugin, or a falsy value when its flags leave it off. One line per plugin.
 */
import type { OptionGroup, PluginOption } from '@lmflow/core';
import { loraFromConfig, loraOptions } from '@lmflow/plugin-lora';
import { qloraFromConfig, qloraOptions } from '@lmflow/plugin-qlora';
import { lisaFromConfig, lisaOptions } from '@lmflow/plugin-lisa';
import { benchmarkFromConfig, benchmarkOptions } from '@lmflow/plugin-benchmark';

export interface TrainingPluginEntry {
  readonly options: OptionGroup;
  /** The plugin for this run's configuration (every command option, by flag name). */
  fromConfig(config: Readonly<Record<string, unknown>>): PluginOption | PluginOption[];
}

export const trainingPlugins: readonly TrainingPluginEntry[] = [
  { options: loraOptions, fromConfig: loraFromConfig },
  { options: qloraOptions, fromConfig: (config) => qloraFromConfig(config, loraFromConfig) },
  { options: lisaOptions, fromConfig: lisaFromConfig },
  { options: benchmarkOptions, fromConfig: benchmarkFromConfig },
];
