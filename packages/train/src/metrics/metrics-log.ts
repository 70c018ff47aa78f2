/**
 * metrics.jsonl in output_dir: one JSON object per logged step, appended as it happens.
 *
 * Each line goes to the OS with one write call as soon as it is logged, so a killed run
 * keeps every line it logged (no buffer in this process). On resume, lines past the resumed
 * step (logged after the checkpoint the run restarts from) are dropped before appending, so
 * the file never holds a step twice; a last line cut short by a crash is dropped too.
 */
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../fs/durable-fs.js';
import { decodeMetricRecord, encodeMetricRecord, type MetricRecord } from './metric-record.js';

export const METRICS_FILE = 'metrics.jsonl';

export interface MetricsLog {
  readonly path: string;
  /** Appends one record as a line; written to the file before this returns. */
  append(record: MetricRecord): void;
  /** Every record in the file: those kept from before a resume, then the appended ones. */
  records(): MetricRecord[];
  close(): void;
}

export interface MetricsLogOptions {
  /**
   * The step a resumed run restarts from: records up to it are kept, later ones dropped.
   * Null or absent: a new run, which starts the file afresh.
   */
  resumeStep?: number | null;
}

export async function openMetricsLog(outputDir: string, options: MetricsLogOptions = {}): Promise<MetricsLog> {
  const path = join(outputDir, METRICS_FILE);
  mkdirSync(outputDir, { recursive: true });
  const resumeStep = options.resumeStep ?? null;
  if (resumeStep !== null && (!Number.isSafeInteger(resumeStep) || resumeStep < 0)) {
    throw new Error(`openMetricsLog: resumeStep is ${resumeStep}, expected an integer >= 0`);
  }
  const kept = resumeStep === null ? [] : (await readMetrics(path)).filter((r) => r.step <= resumeStep);
  await writeFileAtomic(path, kept.map((r) => `${encodeMetricRecord(r)}\n`).join(''));
  const all = [...kept];
  let fd: number | null = openSync(path, 'a');
  return {
    path,
    append(record) {
      if (fd === null) throw new Error(`metrics log ${path}: append after close`);
      const checked = decodeMetricRecord(record, `metrics log ${path}: record`);
      writeSync(fd, `${encodeMetricRecord(checked)}\n`);
      all.push(checked);
    },
    records: () => [...all],
    close() {
      if (fd !== null) closeSync(fd);
      fd = null;
    },
  };
}

/**
 * The records of a metrics.jsonl (none when the file does not exist). A bad line fails with
 * the file and line number, except an unterminated last line: a crash cut it short.
 */
export async function readMetrics(path: string): Promise<MetricRecord[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const lines = text.split('\n');
  const complete = text.endsWith('\n') || text === '';
  const records: MetricRecord[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    const last = i === lines.length - 1;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      if (last && !complete) return;
      throw new Error(`metrics ${path}: line ${i + 1} is not valid JSON: ${line.slice(0, 80)}`);
    }
    records.push(decodeMetricRecord(value, `metrics ${path}: line ${i + 1}`));
  });
  return records;
}
