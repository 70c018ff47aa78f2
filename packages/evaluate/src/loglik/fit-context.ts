/**
 * Rows longer than the model's context lose tokens from the left, as the common harnesses do:
 * the scored tokens are kept whole and the oldest context goes. A row whose scored tokens alone
 * do not fit is an error, since cutting them would change what is measured.
 */
import { IGNORE_INDEX } from '@lmflow/core';
import type { ScoreRow } from './score-rows.js';

export function fitRow(row: ScoreRow, maxLength: number, where: string): { row: ScoreRow; truncated: boolean } {
  if (row.ids.length <= maxLength) return { row, truncated: false };
  const firstScored = row.labels.findIndex((l, t) => t > 0 && l !== IGNORE_INDEX);
  const cut = row.ids.length - maxLength;
  // At least one token of context must stay before the first scored token.
  if (cut > firstScored - 1) {
    throw new Error(`${where}: its scored tokens span ${row.ids.length - firstScored} tokens, which with one token of context do not fit the model's ${maxLength} positions`);
  }
  return { row: { ids: row.ids.slice(cut), labels: row.labels.slice(cut) }, truncated: true };
}

/** Prompt ids cut from the left to leave room for `reserve` new tokens. */
export function fitPrompt(ids: readonly number[], maxLength: number, reserve: number): { ids: number[]; truncated: boolean } {
  const room = maxLength - reserve;
  if (room < 1) throw new Error(`--max_new_tokens ${reserve} leaves no room for a prompt in the model's ${maxLength} positions`);
  return ids.length <= room ? { ids: [...ids], truncated: false } : { ids: ids.slice(ids.length - room), truncated: true };
}
