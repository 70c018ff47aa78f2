/**
 * @lmflow/data: LMFlow's dataset formats read unchanged, conversions from alpaca and sharegpt,
 * conversation templates (LMFlow's presets and the model's own Jinja chat template),
 * tokenization with label masks, block_size truncation, packing, and batching.
 */
export { loadDataset, describeDataset, type LoadDatasetOptions, type LoadedDataset } from './dataset/load-dataset.js';
export { writeDataset } from './dataset/write-dataset.js';
export { validateInstance, INSTANCE_FIELDS } from './dataset/validate-instance.js';
export { DatasetError, type DatasetErrorLocation } from './dataset/dataset-error.js';

export { convertDataset, CONVERT_SOURCES, CONVERT_TARGETS, type ConvertOptions, type ConvertSource, type ConvertTarget } from './convert/convert-dataset.js';
export { alpacaUserTurn } from './convert/from-alpaca.js';

export { loadTokenizer, createTokenizer, TokenizerError, type Tokenizer, type EncodeOptions, type DecodeOptions } from './tokenizer/load-tokenizer.js';

export { PRESET_NAMES, PRESET_ALIASES, findPreset, type PresetTemplate, type TemplateComponent } from './templates/preset-templates.js';
export { compileJinjaTemplate, chatTemplateContext, type JinjaTemplate } from './templates/jinja-template.js';
export { resolveConversationTemplate, assertTemplateTrains, encodeConversation, CONVERSATION_TEMPLATE_NAMES, type ConversationTemplate } from './templates/resolve-template.js';
export { TemplateError } from './templates/template-error.js';
export type { EncodedConversation, EncodedSegment } from './templates/conversation-parts.js';

export { tokenizeTextOnly, tokenizeText2Text, tokenizeConversation, type TokenizeOptions, type ConversationResult } from './tokenize/tokenize-instance.js';
export { SamplePipeline, type PipelineOptions, type TokenizedInstance } from './tokenize/sample-pipeline.js';
export { tokenizeDataset, tokenizePairedDataset, tokenizeScoredDataset, type TokenizeDatasetOptions, type PairedSample, type ScoredSamples } from './tokenize/tokenize-dataset.js';

export { truncateSample } from './batch/truncate.js';
export { resolveBlockSize, DEFAULT_MAX_BLOCK_SIZE } from './batch/block-size.js';
export { packSamples } from './batch/pack.js';
export { groupTexts } from './batch/group-texts.js';
export { collateBatch, padTokenIdOf, type CollateOptions } from './batch/collate.js';

export { inspectDataset, formatInspection, tokenTexts, type InspectOptions, type InspectedSample, type FormatInspectionOptions } from './inspect/inspect-dataset.js';

export { dataOptions } from './data-options.js';
