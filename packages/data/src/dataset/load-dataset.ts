/**
 * Reading LMFlow's dataset format unchanged: a single `.json` file, or a folder whose `*.json`
 * files (not recursive, sorted by name) all hold `{"type": ..., "instances": [...]}` of one type.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DATASET_TYPES, type Dataset, type DatasetInstance, type DatasetType, type Runtime } from '@lmflow/core';
import { DatasetError, describeValue } from './dataset-error.js';
import { parseJsonText, readText } from './json-text.js';
import { isDatasetType, validateInstance } from './validate-instance.js';

export interface LoadDatasetOptions {
  /** Its `data.hooks.resolveDataset` taps may read other formats (the first to return a dataset wins). */
  runtime?: Runtime;
}

/** A dataset read from disk: also which files were read and which files of the folder were not. */
export interface LoadedDataset<T extends DatasetType = DatasetType> extends Dataset<T> {
  files: string[];
  /** Files in the folder that are not `*.json` and so were not read. */
  ignoredFiles: string[];
}

export async function loadDataset(path: string, options: LoadDatasetOptions = {}): Promise<Dataset> {
  const fromPlugin = await options.runtime?.data.hooks.resolveDataset.promise({ path });
  if (fromPlugin) return checkResolved(fromPlugin, path);

  const { files, ignoredFiles } = await datasetFiles(path);
  let type: DatasetType | undefined;
  let typeFile = '';
  const instances: DatasetInstance[] = [];
  const origins: { file: string; index: number }[] = [];
  for (const file of files) {
    const json = parseJsonText(await readText(file), file);
    const fileType = checkTopLevel(json, file);
    if (type === undefined) {
      type = fileType;
      typeFile = file;
    } else if (type !== fileType) {
      throw new DatasetError({ file }, `"type" is "${fileType}" but ${typeFile} has "${type}"; all files of a dataset folder must have one type`);
    }
    const list = (json as { instances: unknown[] }).instances;
    for (let index = 0; index < list.length; index++) {
      instances.push(validateInstance(fileType, list[index], file, index));
      origins.push({ file, index });
    }
  }
  if (type === undefined || instances.length === 0) {
    throw new DatasetError({ file: path }, `has no instances (read ${files.length} file${files.length === 1 ? '' : 's'}); a dataset needs at least one`);
  }
  const dataset: LoadedDataset = { type, instances, origins, files, ignoredFiles };
  return dataset;
}

/** One line for logs and the CLI: `read 999 instances of text2text from 1 file`. */
export function describeDataset(dataset: Dataset): string {
  const files = 'files' in dataset && Array.isArray(dataset.files) ? (dataset.files as string[]).length : new Set(dataset.origins.map((o) => o.file)).size;
  const n = dataset.instances.length;
  let line = `read ${n} instance${n === 1 ? '' : 's'} of ${dataset.type} from ${files} file${files === 1 ? '' : 's'}`;
  const ignored = 'ignoredFiles' in dataset && Array.isArray(dataset.ignoredFiles) ? (dataset.ignoredFiles as string[]) : [];
  if (ignored.length > 0) {
    const shown = ignored.slice(0, 3).join(', ') + (ignored.length > 3 ? `, and ${ignored.length - 3} more` : '');
    line += ` (not read, as they are not *.json: ${shown})`;
  }
  return line;
}

async function datasetFiles(path: string): Promise<{ files: string[]; ignoredFiles: string[] }> {
  let info;
  try {
    info = await stat(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new DatasetError({ file: path }, code === 'ENOENT' ? 'no such file or folder' : `cannot read: ${(error as Error).message}`, { cause: error });
  }
  if (!info.isDirectory()) {
    if (/\.(jsonl|ndjson)$/i.test(path)) {
      throw new DatasetError({ file: path }, 'is JSON Lines; an LMFlow dataset file is one JSON object {"type": ..., "instances": [...]} (convert it with lmflow data convert --from jsonl-text|alpaca|sharegpt)');
    }
    return { files: [path], ignoredFiles: [] };
  }
  const entries = await readdir(path, { withFileTypes: true });
  const files: string[] = [];
  const ignoredFiles: string[] = [];
  for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    if (entry.name.startsWith('.')) continue;
    if (entry.isFile() && entry.name.endsWith('.json')) files.push(join(path, entry.name));
    else ignoredFiles.push(join(path, entry.name));
  }
  if (files.length === 0) {
    const found = ignoredFiles.length === 0 ? 'the folder is empty' : `found only ${ignoredFiles.slice(0, 5).join(', ')}`;
    throw new DatasetError({ file: path }, `has no *.json files (${found}); a dataset folder holds LMFlow JSON files {"type": ..., "instances": [...]}`);
  }
  return { files, ignoredFiles };
}

function checkTopLevel(json: unknown, file: string): DatasetType {
  if (Array.isArray(json)) {
    throw new DatasetError(
      { file },
      'is a JSON array, expected an LMFlow dataset object {"type": ..., "instances": [...]}; ' +
        'to read an alpaca or sharegpt list, convert it first (lmflow data convert --from alpaca|sharegpt)',
    );
  }
  if (typeof json !== 'object' || json === null) {
    throw new DatasetError({ file }, `is ${describeValue(json)}, expected an LMFlow dataset object {"type": ..., "instances": [...]}`);
  }
  const top = json as Record<string, unknown>;
  for (const key of Object.keys(top)) {
    if (key !== 'type' && key !== 'instances') throw new DatasetError({ file, field: key }, `unknown top-level field "${key}"; an LMFlow dataset file has "type" and "instances"`);
  }
  if (!('type' in top)) throw new DatasetError({ file, field: 'type' }, `"type" is missing; expected one of ${DATASET_TYPES.join(', ')}`);
  if (!isDatasetType(top.type)) throw new DatasetError({ file, field: 'type' }, `"type" is ${describeValue(top.type)}, expected one of ${DATASET_TYPES.join(', ')}`);
  if (!Array.isArray(top.instances)) throw new DatasetError({ file, field: 'instances' }, `"instances" is ${describeValue(top.instances)}, expected an array of ${top.type} instances`);
  return top.type;
}

/** A dataset a plugin produced is held to the same rules as one read from files. */
function checkResolved(dataset: Dataset, path: string): Dataset {
  if (!isDatasetType(dataset.type)) throw new DatasetError({ file: path }, `a resolveDataset plugin returned "type" ${describeValue(dataset.type)}, expected one of ${DATASET_TYPES.join(', ')}`);
  if (!Array.isArray(dataset.instances) || dataset.instances.length === 0) throw new DatasetError({ file: path }, 'a resolveDataset plugin returned no instances');
  if (!Array.isArray(dataset.origins) || dataset.origins.length !== dataset.instances.length) {
    throw new DatasetError({ file: path }, `a resolveDataset plugin returned ${dataset.instances.length} instances but ${dataset.origins?.length ?? 0} origins; each instance needs its {file, index}`);
  }
  dataset.instances.forEach((instance, i) => validateInstance(dataset.type, instance, dataset.origins[i]!.file, dataset.origins[i]!.index));
  return dataset;
}
