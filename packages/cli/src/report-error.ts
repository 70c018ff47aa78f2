/**
 * How a failing command ends: one line on stderr and a non-zero status. A stack trace helps
 * only the people who write the code, so it appears with LMFLOW_DEBUG=1 (and a hint to set it
 * is added to errors that look like bugs rather than user mistakes).
 */
import { ConfigError } from '@lmflow/core';
import type { CliIo } from './command.js';

/** argparse's status for a usage error (bad flag, unknown command). */
export const EXIT_USAGE = 2;
/** Anything else that stopped the command. */
export const EXIT_FAILURE = 1;

/** Plain JS errors, as thrown by bugs; any other name (DatasetError, PluginError, ...) was thrown on purpose. */
const BUG_NAMES = new Set(['Error', 'TypeError', 'RangeError', 'ReferenceError', 'SyntaxError', 'EvalError', 'URIError']);

export function reportError(error: unknown, prefix: string, io: CliIo): number {
  const debug = isDebug(io.env);
  const message = error instanceof Error ? error.message : String(error);
  if (debug) {
    io.stderr.write(`${prefix}: error: ${describeForDebug(error)}\n`);
  } else {
    const hint = looksLikeBug(error) ? ' (set LMFLOW_DEBUG=1 to see the stack trace)' : '';
    io.stderr.write(`${prefix}: error: ${message}${hint}\n`);
  }
  return error instanceof ConfigError ? EXIT_USAGE : EXIT_FAILURE;
}

export function isDebug(env: CliIo['env']): boolean {
  const value = env.LMFLOW_DEBUG;
  return value !== undefined && value !== '' && value !== '0' && value.toLowerCase() !== 'false';
}

function looksLikeBug(error: unknown): boolean {
  if (!(error instanceof Error)) return true;
  // Node's system errors (ENOENT, EACCES, ...) are about the user's files, not our code.
  if (typeof (error as NodeJS.ErrnoException).code === 'string' && (error as NodeJS.ErrnoException).syscall) return false;
  return BUG_NAMES.has(error.name);
}

/** The stack, then each `cause` in turn. */
function describeForDebug(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && depth < 8; depth += 1) {
    parts.push(current instanceof Error ? (current.stack ?? current.message) : String(current));
    current = current instanceof Error ? current.cause : undefined;
    if (current !== undefined) parts.push('caused by:');
  }
  return parts.join('\n');
}
