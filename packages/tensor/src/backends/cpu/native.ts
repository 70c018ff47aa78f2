/**
 * Loads the native CPU backend (a node-gyp addon built at install) and turns views into the
 * descriptors its functions take (native/common/napi-view.h).
 *
 * LMFLOW_CPU_ADDON=<path to lmflow_cpu.node> loads another build (scripts/dev-build.mjs).
 */
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { DType } from '../../dtype.js';
import type { View } from '../../backend.js';

/** Shared with native/common/dtype.h. */
export const DTYPE_CODES: Record<DType, number> = { f32: 0, bf16: 1, f16: 2, i32: 3, i64: 4, u8: 5, f64: 6 };

export interface NativeView {
  data: unknown;
  dtype: number;
  offset: number;
  shape: readonly number[];
  strides: readonly number[];
}

/** The addon's functions; each area of kernels adds its own (see native/addon.cc). */
export type NativeAddon = Record<string, (...args: any[]) => any> & {
  numThreads(): number;
  setNumThreads(n: number): void;
  simdLevel(): string;
  setSimdLevel(level: string): string;
};

export function nativeView(view: View): NativeView {
  return {
    data: view.storage.handle,
    dtype: DTYPE_CODES[view.dtype],
    offset: view.offset,
    shape: view.shape,
    strides: view.strides,
  };
}

/** Optional operands are passed as null. */
export function nativeViewOrNull(view: View | null | undefined): NativeView | null {
  return view ? nativeView(view) : null;
}

function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (fs.existsSync(path.join(dir, 'binding.gyp'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('@lmflow/tensor: cannot find the package root (binding.gyp) above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
}

let addon: NativeAddon | null = null;
let loadError: Error | null = null;

/** The addon, or an error saying how to build it. */
export function loadNativeAddon(): NativeAddon {
  if (addon) return addon;
  if (loadError) throw loadError;
  const file = process.env.LMFLOW_CPU_ADDON || path.join(packageRoot(), 'build', 'Release', 'lmflow_cpu.node');
  try {
    addon = createRequire(import.meta.url)(file) as NativeAddon;
    return addon;
  } catch (cause) {
    loadError = new Error(
      `@lmflow/tensor: the native CPU backend could not be loaded from ${file}. ` +
        'It is built by node-gyp when the package installs: run `npm rebuild @lmflow/tensor` ' +
        '(g++ and the Node.js headers are needed; see the README for nodedir). ' +
        `Cause: ${(cause as Error).message}`,
      { cause },
    );
    throw loadError;
  }
}

export function isNativeAddonAvailable(): boolean {
  try {
    loadNativeAddon();
    return true;
  } catch {
    return false;
  }
}

/** A native function by name, with an error naming it when this build lacks it. */
export function nativeFn(name: string): (...args: any[]) => any {
  const fn = loadNativeAddon()[name];
  if (typeof fn !== 'function') {
    throw new Error(`@lmflow/tensor: the native CPU backend has no function "${name}" (a partial development build?)`);
  }
  return fn;
}
