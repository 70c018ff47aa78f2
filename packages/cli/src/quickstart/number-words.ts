/**
 * The quick-start task: spelling out numbers in words ("Spell out 347" -> "three hundred
 * forty-seven"). A model that learns it must compose pieces (hundreds, tens, units) it has seen
 * in other numbers, so held-out numbers test real generalisation, yet a small model learns it
 * on a CPU in about a minute. Written for this project; the data is generated, not copied.
 */
const UNITS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten', 'eleven', 'twelve', 'thirteen', 'fourteen', 'fifteen', 'sixteen', 'seventeen', 'eighteen', 'nineteen'];
const TENS = ['', '', 'twenty', 'thirty', 'forty', 'fifty', 'sixty', 'seventy', 'eighty', 'ninety'];

/** 0..999 in words, American style without "and": 347 -> "three hundred forty-seven". */
export function spellNumber(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n > 999) throw new Error(`spellNumber: ${n} is not an integer in 0..999`);
  const belowHundred = (m: number) => (m < 20 ? UNITS[m]! : TENS[Math.floor(m / 10)]! + (m % 10 ? `-${UNITS[m % 10]}` : ''));
  if (n < 100) return belowHundred(n);
  const rest = n % 100;
  return `${UNITS[Math.floor(n / 100)]} hundred${rest ? ` ${belowHundred(rest)}` : ''}`;
}

export function promptFor(n: number): string {
  return `Spell out ${n}\n`;
}

export interface NumberWordsSplit {
  /** text2text instances of the training numbers, each repeated `repeats` times. */
  train: { input: string; output: string }[];
  /** Numbers never shown in training (three-digit, so the answer needs all three parts). */
  heldOut: number[];
}

/** A seeded split of 0..999: `heldOut` three-digit numbers kept aside, the rest for training. */
export function numberWordsSplit(options: { seed: number; heldOut: number; repeats: number }): NumberWordsSplit {
  const numbers = Array.from({ length: 1000 }, (_, i) => i);
  let state = options.seed >>> 0 || 1;
  const next = () => {
    // xorshift32: a small seeded shuffle, enough to pick a split
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4294967296;
  };
  for (let i = numbers.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [numbers[i], numbers[j]] = [numbers[j]!, numbers[i]!];
  }
  const heldOut = numbers.filter((n) => n >= 100).slice(0, options.heldOut);
  const held = new Set(heldOut);
  const train: { input: string; output: string }[] = [];
  for (let r = 0; r < options.repeats; r++) {
    for (const n of numbers) if (!held.has(n)) train.push({ input: promptFor(n), output: spellNumber(n) });
  }
  return { train, heldOut };
}
