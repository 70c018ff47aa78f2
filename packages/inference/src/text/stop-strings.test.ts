import { describe, expect, it } from 'vitest';
import { createStopMatcher } from './stop-strings.js';

/** Feeds pieces; returns what was emitted and whether (and after which piece) it stopped. */
function run(stops: string[], pieces: string[]): { emitted: string[]; stoppedAt: number } {
  const matcher = createStopMatcher(stops);
  const emitted: string[] = [];
  for (const [i, piece] of pieces.entries()) {
    const { text, stopped } = matcher.push(piece);
    emitted.push(text);
    if (stopped) return { emitted, stoppedAt: i };
  }
  emitted.push(matcher.flush());
  return { emitted, stoppedAt: -1 };
}

describe('createStopMatcher', () => {
  it('ends before a stop string that spans pieces, and emits none of it', () => {
    const { emitted, stoppedAt } = run(['\nUser:'], ['Hello', ' there', '\n', 'Us', 'er:', ' more']);
    expect(stoppedAt).toBe(4);
    expect(emitted).toEqual(['Hello', ' there', '', '', '']);
    expect(emitted.join('')).toBe('Hello there');
  });

  it('releases held text as soon as it can no longer start a stop string', () => {
    const { emitted, stoppedAt } = run(['\nUser:'], ['Hi', '\n', 'Usa', 'ge']);
    expect(stoppedAt).toBe(-1);
    expect(emitted).toEqual(['Hi', '', '\nUsa', 'ge', '']);
  });

  it('the earliest of several stop strings wins, also inside one piece', () => {
    expect(run(['cat', 'the'], ['a dog and the cat'])).toEqual({ emitted: ['a dog and '], stoppedAt: 0 });
    expect(run(['b', 'abc'], ['xab', 'c'])).toEqual({ emitted: ['xa'], stoppedAt: 0 });
  });

  it('flushes held text when generation ends otherwise, and passes everything with no stops', () => {
    expect(run(['END'], ['the E', 'N'])).toEqual({ emitted: ['the ', '', 'EN'], stoppedAt: -1 });
    expect(run([], ['a', 'b'])).toEqual({ emitted: ['a', 'b', ''], stoppedAt: -1 });
  });

  it('never splits a surrogate pair when holding back', () => {
    const { emitted } = run(['😀!'], ['x😀', 'y']);
    expect(emitted).toEqual(['x', '😀y', '']);
  });
});
