import { describe, expect, it } from 'vitest';
import { numberWordsSplit, promptFor, spellNumber } from './number-words.js';

describe('the quick-start task', () => {
  it('spells numbers the American way, hyphenated tens, no "and"', () => {
    expect(spellNumber(0)).toBe('zero');
    expect(spellNumber(13)).toBe('thirteen');
    expect(spellNumber(40)).toBe('forty');
    expect(spellNumber(58)).toBe('fifty-eight');
    expect(spellNumber(100)).toBe('one hundred');
    expect(spellNumber(110)).toBe('one hundred ten');
    expect(spellNumber(347)).toBe('three hundred forty-seven');
    expect(spellNumber(999)).toBe('nine hundred ninety-nine');
    expect(() => spellNumber(1000)).toThrow(/not an integer in 0..999/);
    expect(() => spellNumber(2.5)).toThrow(/2.5/);
  });

  it('holds out three-digit numbers that training never shows, the same ones for the same seed', () => {
    const split = numberWordsSplit({ seed: 42, heldOut: 26, repeats: 2 });
    expect(split.heldOut).toHaveLength(26);
    expect(split.heldOut.every((n) => n >= 100 && n <= 999)).toBe(true);
    expect(split.train).toHaveLength((1000 - 26) * 2);
    const prompts = new Set(split.train.map((s) => s.input));
    for (const n of split.heldOut) expect(prompts.has(promptFor(n))).toBe(false);
    expect(numberWordsSplit({ seed: 42, heldOut: 26, repeats: 1 }).heldOut).toEqual(split.heldOut);
    expect(numberWordsSplit({ seed: 43, heldOut: 26, repeats: 1 }).heldOut).not.toEqual(split.heldOut);
  });
});
