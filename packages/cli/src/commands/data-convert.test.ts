/**
 * `lmflow data convert` end to end on the shared real files: what is written is checked
 * against the source records, read independently here, and loads back with @lmflow/data.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadDataset } from '@lmflow/data';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../index.js';
import { memoryIo } from '../test-io.js';

const repoRoot = path.resolve(fileURLToPath(import.meta.url), '../../../../..');
const alpacaFile = path.resolve(repoRoot, '../shared/data/alpaca_en_demo.json');
const dpoFile = path.resolve(repoRoot, '../shared/data/dpo_en_demo.json');
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'lmflow-convert-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function lmflow(argv: string[]) {
  const io = memoryIo({ cwd: dir });
  const status = await runCli(argv, io);
  return { status, out: io.out(), err: io.err() };
}

describe('lmflow data convert', () => {
  it('converts the alpaca demo to text2text into a folder, record for record', async () => {
    const result = await lmflow(['data', 'convert', '--from', 'alpaca', '--to', 'text2text', '--input_path', alpacaFile, '--output_path', 'alpaca']);
    const written = path.join(dir, 'alpaca', 'alpaca_en_demo.json');
    expect(result).toEqual({ status: 0, out: '', err: `read 999 instances of text2text from 1 file\nwrote 999 text2text instances to ${written}\n` });

    const records = JSON.parse(readFileSync(alpacaFile, 'utf8')) as { instruction: string; input: string; output: string }[];
    const file = JSON.parse(readFileSync(written, 'utf8')) as { type: string; instances: { input: string; output: string }[] };
    expect(file.type).toBe('text2text');
    expect(file.instances).toHaveLength(999);
    records.forEach((record, i) => {
      const prompt = record.input ? `${record.instruction}\n${record.input}` : record.instruction;
      expect(file.instances[i]).toEqual({ input: prompt, output: record.output });
    });
    expect(records.filter((r) => r.input !== '').length).toBeGreaterThan(100);

    const loaded = await loadDataset(path.join(dir, 'alpaca'));
    expect(loaded.type).toBe('text2text');
    expect(loaded.instances).toEqual(file.instances);
  });

  it('converts the ShareGPT preference demo to paired_conversation into a .json file', async () => {
    const result = await lmflow(['data', 'convert', '--from=sharegpt', '--to=paired_conversation', '--input', dpoFile, '--output', 'dpo/train.json']);
    expect(result.status).toBe(0);
    const records = JSON.parse(readFileSync(dpoFile, 'utf8')) as { conversations: { from: string; value: string }[]; chosen: { value: string }; rejected: { value: string } }[];
    const file = JSON.parse(readFileSync(path.join(dir, 'dpo/train.json'), 'utf8')) as {
      type: string;
      instances: { chosen: unknown; rejected: unknown }[];
    };
    expect(file.type).toBe('paired_conversation');
    expect(file.instances).toHaveLength(300);
    let withSystem = 0;
    records.forEach((record, i) => {
      // ShareGPT's leading {"from": "system"} turn is LMFlow's "system" field.
      const system = record.conversations[0]?.from === 'system' ? record.conversations[0].value : undefined;
      if (system !== undefined) withSystem += 1;
      const turns = system === undefined ? record.conversations : record.conversations.slice(1);
      const prompt = turns.map((turn) => ({ role: turn.from === 'human' ? 'user' : 'assistant', content: turn.value }));
      const side = (answer: string) => ({ ...(system !== undefined && { system }), messages: [...prompt, { role: 'assistant', content: answer }] });
      expect(file.instances[i]!.chosen).toEqual(side(record.chosen.value));
      expect(file.instances[i]!.rejected).toEqual(side(record.rejected.value));
    });
    expect(withSystem).toBeGreaterThan(10);
  });

  it('refuses to replace an existing output unless --overwrite_output, and reads options from --config', async () => {
    const target = path.join(dir, 'again.json');
    writeFileSync(target, 'keep me');
    const refused = await lmflow(['data', 'convert', '--from', 'alpaca', '--to', 'conversation', '--input', alpacaFile, '--output', 'again.json']);
    expect(refused).toEqual({ status: 2, out: '', err: `lmflow data convert: error: --output_path: ${target} exists; pass --overwrite_output to replace it\n` });
    expect(readFileSync(target, 'utf8')).toBe('keep me');

    writeFileSync(path.join(dir, 'convert.yaml'), `from: alpaca\nto: conversation\ninput_path: ${alpacaFile}\noutput_path: again.json\n`);
    const replaced = await lmflow(['data', 'convert', '--config', 'convert.yaml', '--overwrite_output']);
    expect(replaced.status).toBe(0);
    const file = JSON.parse(readFileSync(target, 'utf8')) as { type: string; instances: { messages: unknown[] }[] };
    expect(file.type).toBe('conversation');
    expect(file.instances).toHaveLength(999);
    expect(file.instances[0]!.messages).toHaveLength(2);
  });

  it('fails before any work on bad flags, and with the data error for impossible conversions', async () => {
    expect((await lmflow(['data', 'convert', '--from', 'alpaca', '--to', 'text2txt', '--input', alpacaFile, '--output', 'x'])).err).toBe(
      'lmflow data convert: error: --to: expected one of text2text, conversation, paired_conversation, text_only, got "text2txt"; did you mean "text2text"?\n',
    );
    expect((await lmflow(['data', 'convert', '--from', 'alpaca', '--to', 'text2text', '--input', 'missing.json', '--output', 'x'])).err).toBe(
      `lmflow data convert: error: --input: expected an existing file, got "missing.json" (nothing at ${path.join(dir, 'missing.json')})\n`,
    );
    expect((await lmflow(['data', 'convert', '--from', 'alpaca', '--input', alpacaFile])).err).toBe(
      'lmflow data convert: error: missing required options --to, --output_path; set them as flags or in a --config file\n',
    );
    const impossible = await lmflow(['data', 'convert', '--from', 'alpaca', '--to', 'text_only', '--input', alpacaFile, '--output', 'y.json']);
    expect(impossible.status).toBe(1);
    expect(impossible.err).toMatch(/^lmflow data convert: error: dataset .*alpaca_en_demo\.json: .*text_only.*\n$/);
  });
});
