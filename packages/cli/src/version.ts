import { readFileSync } from 'node:fs';

/**
 * The version of @lmflow/cli, from its package.json: one folder up from both src/ (running
 * from source) and dist/ (installed), so the same relative URL works in both.
 */
export function cliVersion(): string {
  const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return manifest.version;
}
