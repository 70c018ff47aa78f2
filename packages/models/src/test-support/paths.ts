/** Paths of the shared test material (read-only, outside the repository). */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
export const stories260K = path.resolve(repoRoot, '../shared/models/stories260K');
