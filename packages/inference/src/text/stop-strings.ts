/**
 * Stop strings over streamed text: generation ends before the first occurrence of any of them,
 * and no part of a stop string is ever emitted. Text that could be the start of a stop string
 * ("\nUs" while waiting to see whether "\nUser:" follows) is held back until it is decided.
 */
export interface StopMatcher {
  /** Adds text; returns what can be emitted and whether a stop string was found. */
  push(text: string): { text: string; stopped: boolean };
  /** Releases the held-back text (generation ended for another reason). */
  flush(): string;
}

export function createStopMatcher(stops: readonly string[]): StopMatcher {
  let held = '';
  return {
    push(text) {
      if (stops.length === 0) return { text, stopped: false };
      const buffer = held + text;
      let first = -1;
      for (const stop of stops) {
        const at = buffer.indexOf(stop);
        if (at !== -1 && (first === -1 || at < first)) first = at;
      }
      if (first !== -1) {
        held = '';
        return { text: buffer.slice(0, first), stopped: true };
      }
      const keep = longestStopPrefixSuffix(buffer, stops);
      held = buffer.slice(buffer.length - keep);
      return { text: buffer.slice(0, buffer.length - keep), stopped: false };
    },
    flush() {
      const rest = held;
      held = '';
      return rest;
    },
  };
}

/** Length of the longest end of `text` that is a proper start of some stop string. */
function longestStopPrefixSuffix(text: string, stops: readonly string[]): number {
  let best = 0;
  for (const stop of stops) {
    for (let n = Math.min(stop.length - 1, text.length); n > best; n--) {
      if (text.endsWith(stop.slice(0, n))) {
        best = n;
        break;
      }
    }
  }
  return best;
}
