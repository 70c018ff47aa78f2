/**
 * What every conversation template produces: the token ids in order, split into segments that
 * are learned (assistant turns) or masked (system, user turns, starter). Labels follow from the
 * segments and --train_on_prompt.
 */
import { IGNORE_INDEX } from '@lmflow/core';

export interface EncodedSegment {
  ids: number[];
  /** Learned without --train_on_prompt (assistant output). */
  learned: boolean;
}

export interface EncodedConversation {
  segments: EncodedSegment[];
  /** A user message after the last assistant reply was left out (nothing to learn from it). */
  droppedTrailingUser: boolean;
  /** Things to tell the user once per dataset (a template without a system role, ...). */
  warnings: string[];
}

export function segmentsToSample(segments: readonly EncodedSegment[], trainOnPrompt: boolean): { inputIds: number[]; labels: number[] } {
  const inputIds: number[] = [];
  const labels: number[] = [];
  for (const segment of segments) {
    for (const id of segment.ids) {
      inputIds.push(id);
      labels.push(segment.learned || trainOnPrompt ? id : IGNORE_INDEX);
    }
  }
  return { inputIds, labels };
}

/** A system string counts as given unless it is empty or only spaces (LMFlow's rule). */
export function hasSystem(system: string | null | undefined): system is string {
  return typeof system === 'string' && system.replaceAll(' ', '') !== '';
}

/** Tool descriptions that say something: LMFlow files often hold `"tools": [""]` for none. */
export function nonEmptyTools(tools: readonly unknown[] | null | undefined): unknown[] {
  return (tools ?? []).filter((tool) => !(typeof tool === 'string' && tool.trim() === ''));
}
