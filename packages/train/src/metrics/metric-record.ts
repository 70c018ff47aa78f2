/**
 * One logged step's metrics, as a flat object of numbers (transformers' log_history names):
 * step, epoch, loss, learning_rate, grad_norm, tokens_per_second, tokens_seen, elapsed
 * (seconds since the run started, resumed time included), eval_loss, eval_perplexity, and any
 * metric a plugin logs. JSON has no NaN or Infinity, and a NaN loss is exactly what a log must
 * keep, so non-finite values are written as the strings "NaN", "Infinity" and "-Infinity".
 */
export interface MetricRecord {
  /** Optimizer steps done when the record was logged. */
  step: number;
  [metric: string]: number;
}

const NON_FINITE: Record<string, number> = { NaN: NaN, Infinity: Infinity, '-Infinity': -Infinity };

/** The record as one line of JSON (no newline). */
export function encodeMetricRecord(record: MetricRecord): string {
  return JSON.stringify(record, (key, value) => (key !== '' && typeof value === 'number' && !Number.isFinite(value) ? String(value) : value));
}

/** Checks a parsed record (from metrics.jsonl or a trainer state); `where` names it in errors. */
export function decodeMetricRecord(value: unknown, where: string): MetricRecord {
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new Error(`${where}: expected an object of metrics, got ${JSON.stringify(value)}`);
  const out: Record<string, number> = {};
  for (const [key, raw] of Object.entries(value as Record<string, unknown>)) {
    if (typeof raw === 'number') out[key] = raw;
    else if (typeof raw === 'string' && raw in NON_FINITE) out[key] = NON_FINITE[raw]!;
    else throw new Error(`${where}: metric "${key}" is ${JSON.stringify(raw)}, expected a number (or "NaN", "Infinity", "-Infinity")`);
  }
  if (!Number.isSafeInteger(out.step) || out.step! < 0) throw new Error(`${where}: "step" is ${JSON.stringify((value as Record<string, unknown>).step)}, expected an integer >= 0`);
  return out as MetricRecord;
}
