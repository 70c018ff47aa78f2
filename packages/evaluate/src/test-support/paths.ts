/** Paths of the shared test material (read-only, outside the repository). */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
export const stories260K = path.resolve(repoRoot, '../shared/models/stories260K');

/** A short story of the kind stories260K was trained on (TinyStories), written for these tests. */
export const STORY =
  'Once upon a time, there was a little girl named Lily. She had a red ball. Lily liked to play with her ball in the park. ' +
  'One day, her friend Tom came to play. Tom said, "Can I play with your ball?" Lily said, "Yes, we can play together." ' +
  'They played all day and they were very happy.';
