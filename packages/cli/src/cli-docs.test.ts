/**
 * docs/cli.md shows the --help text of every command; this test keeps it in sync with the
 * option specs. Each block follows a marker `<!-- lmflow-help: data convert -->` (empty for
 * `lmflow --help`). After changing options or adding a command, rewrite the blocks with
 *   UPDATE_DOCS=1 npx vitest run packages/cli/src/cli-docs.test.ts
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { commands, cliVersion, runCli } from './index.js';
import { memoryIo } from './test-io.js';

const docsFile = path.resolve(fileURLToPath(import.meta.url), '../../../../docs/cli.md');
const BLOCK = /<!-- lmflow-help:([a-z -]*)-->\n```text\n([\s\S]*?)```\n/g;

async function helpOf(command: string): Promise<string> {
  const io = memoryIo();
  const words = command.trim() === '' ? [] : command.trim().split(' ');
  expect(await runCli([...words, '--help'], io)).toBe(0);
  // The version changes with every release; the docs show a placeholder.
  return io.out().replace(`lmflow ${cliVersion()}:`, 'lmflow <version>:');
}

describe('docs/cli.md', () => {
  it('shows the current --help of lmflow and of every command', async () => {
    let text = readFileSync(docsFile, 'utf8');
    const names = ['', ...commands.map((command) => command.name)];
    const shownNow = new Set([...text.matchAll(BLOCK)].map((match) => match[1]!.trim()));
    if (process.env.UPDATE_DOCS === '1') {
      // A new command gets a section at the end; the writer moves it where it reads best.
      for (const name of names.filter((n) => !shownNow.has(n))) text += `\n## \`lmflow ${name}\`\n\n<!-- lmflow-help: ${name} -->\n\`\`\`text\n\`\`\`\n`;
    }
    const shown = [...text.matchAll(BLOCK)].map((match) => match[1]!.trim());
    expect([...shown].sort(), 'docs/cli.md needs one help block per command; UPDATE_DOCS=1 adds missing ones').toEqual([...names].sort());

    let updated = text;
    for (const match of text.matchAll(BLOCK)) {
      const help = await helpOf(match[1]!);
      if (process.env.UPDATE_DOCS === '1') {
        updated = updated.replace(match[0], `<!-- lmflow-help:${match[1]}-->\n\`\`\`text\n${help}\`\`\`\n`);
      } else {
        expect(match[2], `docs/cli.md is out of date for "lmflow ${match[1]!.trim()} --help"; see this test's header`).toBe(help);
      }
    }
    if (updated !== readFileSync(docsFile, 'utf8')) writeFileSync(docsFile, updated);
  });
});
