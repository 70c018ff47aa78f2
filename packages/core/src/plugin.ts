/**
 * The plugin contract: a factory returning `{ name, apply }`, like vite and rollup plugins.
 * `apply` taps hooks of the runtime's owners; it runs once, when the runtime is created.
 *
 *   export function myPlugin(options: MyOptions = {}): Plugin {
 *     const resolved = validate(options);
 *     return { name: 'my-plugin', apply(runtime) { runtime.trainer.hooks.afterStep.tap('my-plugin', ...) } };
 *   }
 */
import type { Runtime } from './runtime.js';

export interface Plugin {
  /** Shown in errors and logs; also the tap name it should use. */
  readonly name: string;
  apply(runtime: Runtime): void;
}

/** Entries of a plugin list; falsy ones are skipped (`[useLora && lora(opts)]`). */
export type PluginOption = Plugin | false | null | undefined | 0 | '';

/** An error thrown by a plugin, with the plugin's name in front. */
export class PluginError extends Error {
  constructor(
    readonly plugin: string,
    readonly phase: string,
    cause: unknown,
  ) {
    super(`plugin "${plugin}" failed in ${phase}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'PluginError';
  }
}

export function isPlugin(value: unknown): value is Plugin {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Plugin).name === 'string' &&
    typeof (value as Plugin).apply === 'function'
  );
}
