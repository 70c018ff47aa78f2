/** Paths of the shared test material (read-only, outside the repository). */
export { repoRoot, stories260K } from '@lmflow/test-utils';
