import { describe, expect, it } from 'vitest';
import { createProgress, formatDuration } from './progress.js';

/** A stream that records what was written, and a clock the test moves. */
function fakes(tty: boolean, columns = 100) {
  const writes: string[] = [];
  let ms = 0;
  return {
    stream: { write: (s: string) => writes.push(s), isTTY: tty, columns },
    writes,
    now: () => ms,
    advance: (seconds: number) => (ms += seconds * 1000),
  };
}

describe('progress, not on a terminal', () => {
  it('writes one plain line per update, with step, loss, lr, tokens/s, elapsed and ETA', () => {
    const f = fakes(false);
    const p = createProgress({ totalSteps: 300, stream: f.stream, now: f.now });
    f.advance(10);
    p.update({ step: 10, epoch: 0.1, loss: 2.34567, learningRate: 2e-5, tokensPerSecond: 12345.6 });
    f.advance(20);
    p.update({ step: 30, loss: NaN });
    p.log('eval_loss 2.1000 at step 30');
    p.finish();
    expect(f.writes).toEqual([
      // 10 steps in 10 s: 290 to go take 4:50.
      'train step 10/300 (3%) | epoch 0.10 | loss 2.3457 | lr 2.00e-5 | 12,346 tok/s | elapsed 0:10 | eta 4:50\n',
      'train step 30/300 (10%) | loss nan | elapsed 0:30 | eta 4:30\n',
      'eval_loss 2.1000 at step 30\n',
    ]);
    // No escape codes or carriage returns in a log file.
    expect(f.writes.join('')).not.toMatch(/[\r\x1b]/);
  });

  it('a resumed run estimates from the steps done since it started', () => {
    const f = fakes(false);
    const p = createProgress({ totalSteps: 1000, startStep: 900, stream: f.stream, now: f.now });
    f.advance(50);
    p.update({ step: 950 });
    expect(f.writes[0]).toBe('train step 950/1000 (95%) | elapsed 0:50 | eta 0:50\n');
  });
});

describe('progress, on a terminal', () => {
  it('redraws one line in place, fitted to the width, throttled, and ends it on finish', () => {
    const f = fakes(true, 120);
    const p = createProgress({ totalSteps: 4, stream: f.stream, now: f.now, redrawIntervalMs: 100 });
    f.advance(1);
    p.update({ step: 1, loss: 3, learningRate: 1e-4, tokensPerSecond: 1000 });
    p.update({ step: 1, loss: 2.9 }); // within 100 ms: not drawn
    f.advance(1);
    p.update({ step: 2, loss: 2.5, learningRate: 1e-4, tokensPerSecond: 1000 });
    p.log('saved checkpoint-2');
    p.update({ step: 4, loss: 2 }); // the last step always draws
    p.finish();
    const [first, second, logged, redraw, last, end, newline] = f.writes;
    expect(f.writes).toHaveLength(7);
    for (const line of [first, second, redraw, last, end]) {
      expect(line!.startsWith('\r')).toBe(true);
      expect(line!.endsWith('\x1b[K')).toBe(true);
      // \r + at most 119 visible cells + the clear-line code.
      expect(line!.length - 1 - 3).toBeLessThanOrEqual(119);
    }
    expect(first).toMatch(/^\rtrain  25% \|[█▏▎▍▌▋▊▉]+ +\| 1\/4  loss 3\.0000  lr 1\.00e-4  1,000 tok\/s  elapsed 0:01  eta 0:03\x1b\[K$/);
    expect(second).toMatch(/ 50% \|[█▏▎▍▌▋▊▉]+ +\| 2\/4  loss 2\.5000/);
    // The message goes above the bar, and the bar comes back under it.
    expect(logged).toBe('\r\x1b[Ksaved checkpoint-2\n');
    expect(redraw).toBe(second);
    expect(last).toMatch(/100% \|█+\| 4\/4  loss 2\.0000/);
    expect(newline).toBe('\n');
  });

  it('drops the bar, not the numbers, on a narrow terminal', () => {
    const f = fakes(true, 60);
    const p = createProgress({ totalSteps: 10, stream: f.stream, now: f.now });
    p.update({ step: 5, loss: 1.5, learningRate: 3e-4, tokensPerSecond: 99_999 });
    expect(f.writes[0]).toMatch(/^\rtrain  50% 5\/10  loss 1\.5000  lr 3\.00e-4/);
    expect(f.writes[0]).not.toContain('|');
  });

  it('formats durations and checks its arguments', () => {
    expect([formatDuration(0), formatDuration(59.6), formatDuration(3600 + 62), formatDuration(NaN)]).toEqual(['0:00', '1:00', '1:01:02', '--']);
    expect(() => createProgress({ totalSteps: 0 })).toThrow('progress: totalSteps is 0, expected an integer >= 1');
  });
});
