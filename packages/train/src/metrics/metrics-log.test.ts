import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { METRICS_FILE, openMetricsLog, readMetrics } from './metrics-log.js';

const root = mkdtempSync(join(tmpdir(), 'lmflow-metrics-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = () => join(root, `run-${n++}`);

describe('metrics.jsonl', () => {
  it('appends one JSON object per line, on disk as soon as it is logged', async () => {
    const out = fresh();
    const log = await openMetricsLog(out);
    log.append({ step: 1, epoch: 0.01, loss: 2.5, learning_rate: 1e-5, grad_norm: 0.75, tokens_per_second: 1234.5, elapsed: 1.5 });
    // Read by another reader before close: the line is already in the file.
    expect(readFileSync(join(out, METRICS_FILE), 'utf8')).toBe('{"step":1,"epoch":0.01,"loss":2.5,"learning_rate":0.00001,"grad_norm":0.75,"tokens_per_second":1234.5,"elapsed":1.5}\n');
    log.append({ step: 2, loss: NaN, eval_loss: 2.25, eval_perplexity: Math.exp(2.25) });
    log.close();
    const records = await readMetrics(join(out, METRICS_FILE));
    expect(records).toHaveLength(2);
    expect(Number.isNaN(records[1]!.loss)).toBe(true);
    expect(records[1]!.eval_perplexity).toBe(Math.exp(2.25));
    expect(() => log.append({ step: 3 })).toThrow(/append after close/);
  });

  it('on resume drops the lines logged after the resumed step, and a line cut short by a crash', async () => {
    const out = fresh();
    const first = await openMetricsLog(out);
    for (let step = 10; step <= 50; step += 10) first.append({ step, loss: 3 - step / 100 });
    first.append({ step: 50, eval_loss: 2.6 });
    first.close();
    // The run was killed while writing a line.
    appendFileSync(join(out, METRICS_FILE), '{"step":60,"lo');
    // It resumes from checkpoint-30: steps 40 to 60 will be logged again.
    const resumed = await openMetricsLog(out, { resumeStep: 30 });
    expect(resumed.records().map((r) => r.step)).toEqual([10, 20, 30]);
    resumed.append({ step: 40, loss: 2.55 });
    resumed.close();
    const steps = (await readMetrics(join(out, METRICS_FILE))).map((r) => r.step);
    expect(steps).toEqual([10, 20, 30, 40]);
    expect(new Set(steps).size).toBe(steps.length);
  });

  it('a new run starts the file afresh; a damaged line fails with the file and line number', async () => {
    const out = fresh();
    const a = await openMetricsLog(out);
    a.append({ step: 1, loss: 1 });
    a.close();
    const b = await openMetricsLog(out);
    expect(b.records()).toEqual([]);
    b.close();
    expect(readFileSync(join(out, METRICS_FILE), 'utf8')).toBe('');
    const file = join(out, METRICS_FILE);
    writeFileSync(file, '{"step":1,"loss":1}\nnot json\n{"step":3}\n');
    await expect(openMetricsLog(out, { resumeStep: 5 })).rejects.toThrow(`metrics ${file}: line 2 is not valid JSON: not json`);
    writeFileSync(file, '{"step":1,"loss":"low"}\n');
    await expect(readMetrics(file)).rejects.toThrow(`metrics ${file}: line 1: metric "loss" is "low", expected a number`);
    writeFileSync(file, '{"loss":1}\n');
    await expect(readMetrics(file)).rejects.toThrow(`metrics ${file}: line 1: "step" is undefined, expected an integer >= 0`);
  });
});
