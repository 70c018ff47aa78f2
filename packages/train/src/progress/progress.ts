/**
 * Training progress for a person watching: on a terminal, one line redrawn in place (bar,
 * step/total, loss, learning rate, tokens/s, ETA); elsewhere (CI logs, files) one plain line
 * per update, which reads well when scrolled. Written by hand: the line is a few string
 * operations, and the stream and clock must be injectable for tests.
 */

export interface ProgressStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
  /** Terminal width; the line is fitted to it. */
  columns?: number;
}

export interface ProgressOptions {
  /** Optimizer steps in the run. */
  totalSteps: number;
  /** The step a resumed run starts from (ETA counts only steps done here). @default 0 */
  startStep?: number;
  /** @default process.stderr */
  stream?: ProgressStream;
  /** Milliseconds on a monotonic clock. @default performance.now */
  now?: () => number;
  /** Redraw in place. @default stream.isTTY */
  tty?: boolean;
  /** On a terminal, the least time between redraws (the last step always draws). @default 100 */
  redrawIntervalMs?: number;
  /** Word in front of the line. @default "train" */
  label?: string;
}

export interface ProgressUpdate {
  /** Optimizer steps done. */
  step: number;
  epoch?: number;
  loss?: number;
  learningRate?: number;
  tokensPerSecond?: number;
}

export interface Progress {
  update(update: ProgressUpdate): void;
  /** A message (eval results, checkpoint saved) above the bar, or as its own plain line. */
  log(line: string): void;
  /** Ends the bar's line. */
  finish(): void;
}

const CLEAR_LINE = '\x1b[K';

export function createProgress(options: ProgressOptions): Progress {
  const { totalSteps } = options;
  if (!Number.isInteger(totalSteps) || totalSteps < 1) throw new Error(`progress: totalSteps is ${totalSteps}, expected an integer >= 1`);
  const stream = options.stream ?? process.stderr;
  const now = options.now ?? (() => performance.now());
  const tty = options.tty ?? Boolean(stream.isTTY);
  const interval = options.redrawIntervalMs ?? 100;
  const label = options.label ?? 'train';
  const startStep = options.startStep ?? 0;
  const started = now();
  let last: ProgressUpdate | null = null;
  let lastDraw = -Infinity;
  let drawn = false;

  function fields(u: ProgressUpdate): string[] {
    const elapsed = (now() - started) / 1000;
    const done = u.step - startStep;
    const eta = done > 0 && elapsed > 0 ? ((totalSteps - u.step) * elapsed) / done : NaN;
    const out = [`${u.step}/${totalSteps}`];
    if (u.epoch !== undefined) out.push(`epoch ${u.epoch.toFixed(2)}`);
    if (u.loss !== undefined) out.push(`loss ${formatLoss(u.loss)}`);
    if (u.learningRate !== undefined) out.push(`lr ${formatLr(u.learningRate)}`);
    if (u.tokensPerSecond !== undefined) out.push(`${formatRate(u.tokensPerSecond)} tok/s`);
    out.push(`elapsed ${formatDuration(elapsed)}`, `eta ${formatDuration(eta)}`);
    return out;
  }

  function percent(step: number): string {
    return `${Math.floor((100 * Math.min(step, totalSteps)) / totalSteps)}%`.padStart(4);
  }

  function ttyLine(u: ProgressUpdate): string {
    const text = fields(u).join('  ');
    const head = `${label} ${percent(u.step)} `;
    const width = stream.columns ?? 100;
    const barWidth = width - head.length - text.length - 4;
    // A bar narrower than 10 cells says little: drop it and keep the numbers.
    const line = barWidth >= 10 ? `${head}|${bar(u.step / totalSteps, barWidth)}| ${text}` : `${head}${text}`;
    return line.length > width - 1 ? line.slice(0, width - 1) : line;
  }

  function draw(u: ProgressUpdate): void {
    stream.write(`\r${ttyLine(u)}${CLEAR_LINE}`);
    drawn = true;
    lastDraw = now();
  }

  return {
    update(u) {
      if (!Number.isInteger(u.step) || u.step < 0) throw new Error(`progress: step is ${u.step}, expected an integer >= 0`);
      last = u;
      if (!tty) {
        stream.write(`${label} ${fields(u).join(' | ').replace(`${u.step}/${totalSteps}`, `step ${u.step}/${totalSteps} (${percent(u.step).trim()})`)}\n`);
        return;
      }
      if (u.step >= totalSteps || now() - lastDraw >= interval) draw(u);
    },
    log(line) {
      if (!tty) {
        stream.write(`${line}\n`);
        return;
      }
      stream.write(`\r${CLEAR_LINE}${line}\n`);
      if (last) draw(last);
    },
    finish() {
      if (!tty) return;
      if (last) draw(last);
      if (drawn) stream.write('\n');
      drawn = false;
    },
  };
}

/** Eighth-cell resolution, so slow runs still see the bar move. */
function bar(fraction: number, width: number): string {
  const f = Math.min(1, Math.max(0, fraction));
  const eighths = Math.round(f * width * 8);
  const full = Math.floor(eighths / 8);
  const partial = eighths % 8;
  const PARTS = ['', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];
  return ('█'.repeat(full) + PARTS[partial]!).padEnd(width, ' ');
}

export function formatLoss(loss: number): string {
  return Number.isFinite(loss) ? loss.toFixed(4) : String(loss).toLowerCase();
}

export function formatLr(lr: number): string {
  return lr === 0 ? '0' : lr.toExponential(2);
}

export function formatRate(perSecond: number): string {
  if (!Number.isFinite(perSecond)) return '-';
  return Math.round(perSecond).toLocaleString('en-US');
}

/** h:mm:ss or m:ss; "--" when unknown. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}
