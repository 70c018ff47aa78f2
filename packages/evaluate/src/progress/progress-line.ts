/**
 * A one-line progress display on stderr: "evaluating  40/100 samples  3.1/s  ETA 19s". On a
 * terminal it redraws in place; elsewhere (logs, CI) it prints a line at most every 10%.
 */
export interface ProgressLine {
  update(done: number, total: number): void;
  finish(): void;
}

export function createProgressLine(stream: { write(text: string): unknown; readonly isTTY?: boolean }, label: string, unit: string): ProgressLine {
  const started = performance.now();
  let lastDraw = 0;
  let lastDecile = -1;
  let drawn = false;
  let line = '';
  const render = (done: number, total: number) => {
    const seconds = (performance.now() - started) / 1000;
    const rate = done / Math.max(seconds, 1e-9);
    const eta = rate > 0 ? (total - done) / rate : Infinity;
    return `${label}  ${String(done).padStart(String(total).length)}/${total} ${unit}  ${rate.toFixed(1)}/s  ${done < total ? `ETA ${formatSeconds(eta)}` : `in ${formatSeconds(seconds)}`}`;
  };
  return {
    update(done, total) {
      line = render(done, total);
      if (stream.isTTY) {
        const now = performance.now();
        if (now - lastDraw < 100 && done < total) return;
        lastDraw = now;
        stream.write(`\r\x1b[2K${line}`);
        drawn = true;
        return;
      }
      const decile = Math.floor((done / Math.max(total, 1)) * 10);
      if (decile === lastDecile) return;
      lastDecile = decile;
      stream.write(`${line}\n`);
    },
    finish() {
      if (drawn) stream.write(`\r\x1b[2K${line}\n`);
    },
  };
}

function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  if (seconds < 60) return `${Math.round(seconds)}s`;
  const m = Math.floor(seconds / 60);
  return m < 60 ? `${m}m${String(Math.round(seconds % 60)).padStart(2, '0')}s` : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}
