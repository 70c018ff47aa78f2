/**
 * @lmflow/core: the hook points every LMFlow.ts package and plugin meets at, the plugin
 * contract, the shared types, and configuration.
 */
import { registerCoreCopy } from './singleton.js';

registerCoreCopy(import.meta.url);

export { createRuntime, type Runtime, type RuntimeOptions } from './runtime.js';
export { PluginError, isPlugin, type Plugin, type PluginOption } from './plugin.js';
export { STAGE_FIRST, STAGE_EARLY, STAGE_NORMAL, STAGE_LATE, STAGE_LAST } from './stages.js';
export { registerCoreCopy } from './singleton.js';

export { createDataOwner, type DataOwner, type DataHooks, type ResolveDatasetContext, type SampleContext, type CollateContext, type FilterContext } from './hooks/data-hooks.js';
export { createModelOwner, type ModelOwner, type ModelHooks, type ModelConfig, type ModelContext, type WrapModuleContext, type ModelHandle, type ModelHandleContext, type Encoder } from './hooks/model-hooks.js';
export { createOptimizerOwner, type OptimizerOwner, type OptimizerHooks, type ParamGroup, type Optimizer, type Scheduler, type OptimizerContext } from './hooks/optimizer-hooks.js';
export { createTrainerOwner, type TrainerOwner, type TrainerHooks, type TrainState, type TrainerContext, type StepContext, type AfterStepContext, type EvaluateContext } from './hooks/trainer-hooks.js';
export { createDecoderOwner, type DecoderOwner, type DecoderHooks, type GenerateContext, type LogitsContext, type AfterGenerateContext } from './hooks/decoder-hooks.js';

export { DATASET_TYPES, type DatasetType, type Dataset, type DatasetInstance, type InstanceOf, type TextOnlyInstance, type Text2TextInstance, type ConversationInstance, type ConversationMessage, type MessageRole, type PairedConversationInstance, type TextToScoredTextlistInstance, type ScoredText, type ImageTextInstance } from './types/dataset.js';
export { IGNORE_INDEX, type TokenizedSample, type Batch } from './types/tokenized.js';
export type { Module, ModuleKind, ModuleOfKind, LinearModule, AttentionModule, AttentionInputs, EmbeddingModule, MlpModule } from './types/modules.js';

export { defineOptions, type OptionGroup, type OptionSpec, type OptionSpecs, type OptionValue, type ConfigOf, type ConfigOfGroups, type ListItemType, type StringOptionSpec, type PathOptionSpec, type NumberOptionSpec, type BooleanOptionSpec, type EnumOptionSpec, type ListOptionSpec } from './config/option-spec.js';
export { resolveConfig, type ResolveConfigOptions } from './config/resolve-config.js';
export { ConfigError } from './config/config-error.js';
export { wantsHelp } from './config/parse-argv.js';
export { readConfigFile, type ConfigFile } from './config/read-config-file.js';
export { formatOptionsHelp, type HelpTextOptions } from './config/help-text.js';
export { closestName } from './config/closest-name.js';
