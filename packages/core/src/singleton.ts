/**
 * Two copies of @lmflow/core in one process (a plugin that bundled its own, or mismatched
 * versions in node_modules) would give plugins hooks of a runtime nobody calls. The first copy
 * to load registers itself on globalThis; a second one reports both locations.
 */
const KEY = Symbol.for('@lmflow/core');

export interface CoreCopy {
  readonly location: string;
}

export function registerCoreCopy(location: string, report: (message: string) => void = (m) => console.warn(m)): void {
  const registry = globalThis as unknown as Record<symbol, CoreCopy | undefined>;
  const first = registry[KEY];
  if (first && first.location !== location) {
    report(
      `@lmflow/core is loaded twice in this process: ${first.location} and ${location}. ` +
        'Plugins must use the application\'s copy: declare @lmflow/core as a peer dependency, ' +
        'not a dependency, and do not bundle it (npm ls @lmflow/core shows where the copies come from).',
    );
    return;
  }
  registry[KEY] = { location };
}
