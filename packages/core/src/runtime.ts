/**
 * The runtime: one owner per part of the system, each with its frozen hooks, and the plugins
 * applied to them. A recipe (finetune, generate, serve) creates one runtime, then calls the
 * hooks at its points.
 */
import type { Hook, HookMap } from 'tapable';
import { createDataOwner, type DataOwner } from './hooks/data-hooks.js';
import { createModelOwner, type ModelOwner } from './hooks/model-hooks.js';
import { createOptimizerOwner, type OptimizerOwner } from './hooks/optimizer-hooks.js';
import { createTrainerOwner, type TrainerOwner } from './hooks/trainer-hooks.js';
import { createDecoderOwner, type DecoderOwner } from './hooks/decoder-hooks.js';
import { PluginError, isPlugin, type Plugin, type PluginOption } from './plugin.js';

export interface Runtime {
  readonly data: DataOwner;
  readonly model: ModelOwner;
  readonly optimizer: OptimizerOwner;
  readonly trainer: TrainerOwner;
  readonly decoder: DecoderOwner;
  /** The plugins applied, in order (falsy entries removed). */
  readonly plugins: readonly Plugin[];
}

export interface RuntimeOptions {
  plugins?: readonly PluginOption[];
}

export function createRuntime(options: RuntimeOptions = {}): Runtime {
  const owners = {
    data: createDataOwner(),
    model: createModelOwner(),
    optimizer: createOptimizerOwner(),
    trainer: createTrainerOwner(),
    decoder: createDecoderOwner(),
  };
  for (const [ownerName, owner] of Object.entries(owners)) {
    for (const [hookName, hook] of Object.entries(owner.hooks)) {
      nameErrorsOf(hook as AnyHook | AnyHookMap, `${ownerName}.hooks.${hookName}`);
    }
  }
  const plugins: Plugin[] = [];
  (options.plugins ?? []).forEach((entry, index) => {
    if (!entry) return;
    if (!isPlugin(entry)) {
      throw new Error(`plugins[${index}] is not a plugin: expected an object with a string "name" and an "apply" function (did you pass the factory instead of calling it?)`);
    }
    plugins.push(entry);
  });
  const runtime: Runtime = Object.freeze({ ...owners, plugins: Object.freeze(plugins) });
  for (const plugin of plugins) {
    try {
      plugin.apply(runtime);
    } catch (error) {
      throw new PluginError(plugin.name, 'apply', error);
    }
  }
  return runtime;
}

type AnyHook = Hook<unknown[], unknown>;
type AnyHookMap = HookMap<AnyHook>;

/**
 * Wraps every tap so that an error thrown inside it names the tap (by convention the
 * plugin's name) and the hook: `plugin "lora" failed in model.hooks.wrapModule(linear): ...`.
 */
function nameErrorsOf(hook: AnyHook | AnyHookMap, label: string): void {
  if (isHookMap(hook)) {
    hook.intercept({
      factory: (key, inner) => {
        nameErrorsOf(inner, `${label}(${String(key)})`);
        return inner;
      },
    });
    return;
  }
  hook.intercept({
    register: (tap) => {
      const fn = tap.fn as (...args: unknown[]) => unknown;
      const fail = (error: unknown) => (error instanceof PluginError ? error : new PluginError(tap.name, label, error));
      if (tap.type === 'sync') {
        tap.fn = (...args: unknown[]) => {
          try {
            return fn(...args);
          } catch (error) {
            throw fail(error);
          }
        };
      } else if (tap.type === 'promise') {
        tap.fn = async (...args: unknown[]) => {
          try {
            return await fn(...args);
          } catch (error) {
            throw fail(error);
          }
        };
      } else {
        tap.fn = (...args: unknown[]) => {
          const callback = args.pop() as (error?: unknown, result?: unknown) => void;
          try {
            fn(...args, (error?: unknown, result?: unknown) => callback(error ? fail(error) : error, result));
          } catch (error) {
            callback(fail(error));
          }
        };
      }
      return tap;
    },
  });
}

function isHookMap(hook: AnyHook | AnyHookMap): hook is AnyHookMap {
  return typeof (hook as AnyHookMap).for === 'function';
}
