/** Hooks of the data pipeline (reading, sample transforms, tokenization, batching). */
import { AsyncSeriesBailHook, AsyncSeriesWaterfallHook, SyncWaterfallHook } from 'tapable';
import type { Dataset, DatasetInstance, DatasetType } from '../types/dataset.js';
import type { Batch, TokenizedSample } from '../types/tokenized.js';

export interface ResolveDatasetContext {
  /** The path the user gave (`--dataset_path`). */
  path: string;
}

export interface SampleContext {
  type: DatasetType;
  /** The file and instance index the sample came from. */
  origin: { file: string; index: number };
}

export interface CollateContext {
  /** Padded length of the batch (block_size, or the longest sample). */
  length: number;
  device: string;
}

export interface FilterContext {
  type: DatasetType;
}

export interface DataHooks {
  /** Reads a path into a dataset; the first tap returning one wins (plugins add formats). Async bail. */
  readonly resolveDataset: AsyncSeriesBailHook<[ResolveDatasetContext], Dataset | undefined>;
  /** Rewrites each instance before tokenization (prompt structure, augmentation). Waterfall. */
  readonly transformSample: SyncWaterfallHook<[DatasetInstance, SampleContext]>;
  /** Adjusts each tokenized sample (extra ids, label masks). Waterfall. */
  readonly tokenizeSample: SyncWaterfallHook<[TokenizedSample, SampleContext]>;
  /** Adjusts each batch after collation (extra inputs such as pixel values). Waterfall. */
  readonly collateBatch: SyncWaterfallHook<[Batch, CollateContext]>;
  /** Filters or reorders instances before training (RAFT keeps the best-scored). Async waterfall. */
  readonly filterSamples: AsyncSeriesWaterfallHook<[DatasetInstance[], FilterContext]>;
}

export interface DataOwner {
  readonly hooks: DataHooks;
}

export function createDataOwner(): DataOwner {
  return {
    hooks: Object.freeze({
      resolveDataset: new AsyncSeriesBailHook<[ResolveDatasetContext], Dataset | undefined>(['context']),
      transformSample: new SyncWaterfallHook<[DatasetInstance, SampleContext]>(['instance', 'context']),
      tokenizeSample: new SyncWaterfallHook<[TokenizedSample, SampleContext]>(['sample', 'context']),
      collateBatch: new SyncWaterfallHook<[Batch, CollateContext]>(['batch', 'context']),
      filterSamples: new AsyncSeriesWaterfallHook<[DatasetInstance[], FilterContext]>(['instances', 'context']),
    }),
  };
}
