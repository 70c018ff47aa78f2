/** Whether ops record the tape. Off inside noGrad(), during backward, and for optimizers. */
let enabled = true;

export function isGradEnabled(): boolean {
  return enabled;
}

/** Runs fn without recording gradients (torch.no_grad). */
export function noGrad<T>(fn: () => T): T {
  return withGradMode(false, fn);
}

/** Runs fn with recording on, even inside noGrad (used by checkpoint's recompute). */
export function enableGrad<T>(fn: () => T): T {
  return withGradMode(true, fn);
}

function withGradMode<T>(mode: boolean, fn: () => T): T {
  const previous = enabled;
  enabled = mode;
  try {
    const result = fn();
    if (result instanceof Promise) {
      throw new Error('noGrad/enableGrad: the function returned a Promise; grad mode is synchronous, await outside it');
    }
    return result;
  } finally {
    enabled = previous;
  }
}
