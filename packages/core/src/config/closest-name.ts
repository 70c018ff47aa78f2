import { distance } from 'fastest-levenshtein';

/**
 * The candidate the user most likely meant (`lerning_rate` -> `learning_rate`), or undefined
 * when none is close enough to be a useful suggestion. Case and `-`/`_` are ignored, and an
 * unambiguous prefix counts (`--learning` -> `learning_rate`).
 */
export function closestName(input: string, candidates: Iterable<string>): string | undefined {
  const normal = (s: string) => s.toLowerCase().replaceAll('-', '_');
  const wanted = normal(input);
  if (wanted.length === 0) return undefined;
  let best: string | undefined;
  let bestDistance = Infinity;
  const prefixed: string[] = [];
  for (const candidate of candidates) {
    const d = distance(wanted, normal(candidate));
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
    if (normal(candidate).startsWith(wanted)) prefixed.push(candidate);
  }
  // A third of the length: one typo in a short name, a few in a long one, never a different word.
  if (best !== undefined && bestDistance <= Math.max(1, Math.round(wanted.length / 3))) return best;
  return prefixed.length === 1 ? prefixed[0] : undefined;
}
