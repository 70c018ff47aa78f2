/**
 * An inference-only user's install: the packages generation needs (tensor, core, data, models,
 * inference) packed with `npm pack` as they would be published, installed from the tarballs
 * into an empty folder, and a plain Node script there (no TypeScript, no workspace) generates
 * the model's golden greedy story. No training package may come along. Then the server's
 * tarball joins them, and its published build (dist/, the worker entry, the web/ files) serves
 * the same story over HTTP, still without any training package.
 *
 * The native addon: the tensor tarball builds it with node-gyp on install, which takes minutes
 * on two cores. By default the test installs with scripts off, copies in the addon this
 * workspace built, and then runs the tarball's own install script, which finds the addon newer
 * than its sources and keeps it. That is sound only when the addon was built from exactly the
 * tarball's native sources by this same Node, so the test checks both: every file of the
 * tarball's native/ and binding.gyp is byte-identical to the workspace's, and the workspace's
 * addon is newer than each of them (the rule of the install script). LMFLOW_TEST_NATIVE_BUILD=1
 * runs the real node-gyp build instead.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const repoRoot = path.resolve(fileURLToPath(import.meta.url), '../../../../..');
const modelDir = path.resolve(repoRoot, '../shared/models/stories260K');
const PACKAGES = ['@lmflow/tensor', '@lmflow/core', '@lmflow/data', '@lmflow/models', '@lmflow/inference'];
const SERVER = '@lmflow/server';
const GOLDEN =
  'Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball. She wanted to play with it, but it was too high.';
const realNativeBuild = process.env.LMFLOW_TEST_NATIVE_BUILD === '1';

const root = mkdtempSync(path.join(tmpdir(), 'lmflow-inference-only-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A clean environment: no workspace conditions or loaders, no addon override. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const key of ['NODE_OPTIONS', 'LMFLOW_CPU_ADDON', 'VITEST', 'VITEST_POOL_ID', 'VITEST_WORKER_ID']) delete env[key];
  return env;
}

function run(command: string, args: string[], cwd: string): string {
  const result = spawnSync(command, args, { cwd, env: cleanEnv(), encoding: 'utf8', timeout: 280_000 });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (${result.status ?? result.signal}):\n${result.stdout}\n${result.stderr}`);
  return result.stdout + result.stderr;
}

/** Every file under dir, relative, sorted. */
function filesUnder(dir: string): string[] {
  return (readdirSync(dir, { recursive: true }) as string[]).filter((f) => statSync(path.join(dir, f)).isFile()).sort();
}

describe('inference-only install from npm pack tarballs', () => {
  it('installs without any training package, generates the golden story, and serves it from the published server build', { timeout: 600_000 }, async () => {
    // The published files are dist/ builds: bring them up to date (nx replays its cache when
    // nothing changed, as after `npm ci`).
    run('npx', ['nx', 'run-many', '-t', 'build', '-p', ...PACKAGES, SERVER, '--output-style=static'], repoRoot);

    const packs = path.join(root, 'packs');
    mkdirSync(packs);
    const packed = JSON.parse(
      execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', packs, ...PACKAGES.flatMap((p) => ['-w', p])], { cwd: repoRoot, env: cleanEnv(), encoding: 'utf8' }),
    ) as { name: string; filename: string; files: { path: string }[] }[];
    expect(packed.map((p) => p.name).sort()).toEqual([...PACKAGES].sort());
    for (const p of packed) {
      // Built code ships; tests and TypeScript sources do not.
      expect(p.files.some((f) => f.path === 'dist/index.js')).toBe(true);
      expect(p.files.filter((f) => f.path.endsWith('.test.ts') || f.path.startsWith('src/'))).toEqual([]);
    }

    const app = path.join(root, 'app');
    mkdirSync(app);
    writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'inference-only-app', private: true, type: 'module' }));
    // Third-party dependencies come from npm's cache when they are there (the workspace put them
    // there), else from the registry; the @lmflow packages only from the tarballs.
    const tarballs = packed.map((p) => path.join(packs, p.filename));
    run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', ...(realNativeBuild ? [] : ['--ignore-scripts']), ...tarballs], app);

    const installedTensor = path.join(app, 'node_modules/@lmflow/tensor');
    if (!realNativeBuild) {
      const workspaceTensor = path.join(repoRoot, 'packages/tensor');
      const sources = ['binding.gyp', ...filesUnder(path.join(installedTensor, 'native')).map((f) => path.join('native', f))];
      expect(sources.length).toBeGreaterThan(5);
      expect(filesUnder(path.join(workspaceTensor, 'native'))).toEqual(filesUnder(path.join(installedTensor, 'native')));
      const workspaceAddon = path.join(workspaceTensor, 'build/Release/lmflow_cpu.node');
      for (const file of sources) {
        expect(readFileSync(path.join(installedTensor, file)).equals(readFileSync(path.join(workspaceTensor, file))), `${file} differs from the workspace's`).toBe(true);
        expect(statSync(workspaceAddon).mtimeMs, `the workspace addon is older than ${file}: run npm run build:native`).toBeGreaterThan(statSync(path.join(workspaceTensor, file)).mtimeMs);
      }
      mkdirSync(path.join(installedTensor, 'build/Release'), { recursive: true });
      copyFileSync(workspaceAddon, path.join(installedTensor, 'build/Release/lmflow_cpu.node'));
      // The tarball's own install step, as npm runs it on install.
      expect(run('npm', ['rebuild', '@lmflow/tensor', '--foreground-scripts'], app)).toContain('@lmflow/tensor: native CPU backend is up to date');
    }
    expect(existsSync(path.join(installedTensor, 'build/Release/lmflow_cpu.node'))).toBe(true);

    // Exactly the five packages, and nothing of training anywhere in the tree.
    expect(readdirSync(path.join(app, 'node_modules/@lmflow')).sort()).toEqual(PACKAGES.map((p) => p.slice('@lmflow/'.length)).sort());
    const tree = JSON.parse(run('npm', ['ls', '--all', '--json'], app)) as unknown;
    expect(JSON.stringify(tree)).not.toContain('@lmflow/train');
    expect(JSON.stringify(tree)).not.toContain('@lmflow/test-utils');

    writeFileSync(
      path.join(app, 'generate.mjs'),
      `import { loadGenerator } from '@lmflow/inference';
const generator = await loadGenerator(process.argv[2]);
const story = await generator.generate('', { maxNewTokens: 64, doSample: false });
const chat = generator.chat([{ role: 'user', content: 'Tell me a story.' }], { maxNewTokens: 8, doSample: false });
let streamed = '';
for await (const delta of chat) streamed += delta.text;
console.log(JSON.stringify({ resolved: import.meta.resolve('@lmflow/inference'), story, streamed, chat: await chat.result }));
`,
    );
    const output = JSON.parse(run(process.execPath, ['generate.mjs', modelDir], app)) as {
      resolved: string;
      story: { text: string; finishReason: string; usage: { promptTokens: number; completionTokens: number } };
      streamed: string;
      chat: { text: string; usage: { completionTokens: number } };
    };
    expect(output.resolved).toBe(`file://${path.join(app, 'node_modules/@lmflow/inference/dist/index.js')}`);
    expect(output.story.text.startsWith(GOLDEN)).toBe(true);
    expect(output.story).toMatchObject({ finishReason: 'length', usage: { promptTokens: 1, completionTokens: 64 } });
    expect(output.streamed).toBe(output.chat.text);
    expect(output.chat.usage.completionTokens).toBe(8);

    // Serving needs the server on top of these, and still nothing of training.
    const [serverPack] = JSON.parse(
      execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', packs, '-w', SERVER], { cwd: repoRoot, env: cleanEnv(), encoding: 'utf8' }),
    ) as { filename: string; files: { path: string }[] }[];
    const shipped = serverPack!.files.map((f) => f.path);
    for (const file of ['dist/index.js', 'dist/engine-worker.js', 'web/index.html', 'web/chat.js', 'web/chat.css', 'web/favicon.svg']) expect(shipped).toContain(file);
    expect(shipped.filter((f) => f.startsWith('src/') || f.endsWith('.test.ts'))).toEqual([]);
    run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--ignore-scripts', path.join(packs, serverPack!.filename)], app);
    expect(readdirSync(path.join(app, 'node_modules/@lmflow')).sort()).toEqual([...PACKAGES, SERVER].map((p) => p.slice('@lmflow/'.length)).sort());
    expect(run('npm', ['ls', '--all', '--json'], app)).not.toContain('@lmflow/train');
    writeFileSync(
      path.join(app, 'serve.mjs'),
      `import { createServer, workerEngine } from '@lmflow/server';
const engine = await workerEngine({ modelNameOrPath: process.argv[2] });
const server = createServer({ engine, port: 0 });
const { url } = await server.listen();
const page = await fetch(url + '/');
const script = await fetch(url + '/chat.js');
const completion = await (await fetch(url + '/v1/completions', {
  method: 'POST',
  headers: { 'Content-Type': 'application/json' },
  body: JSON.stringify({ model: engine.modelId, prompt: '', max_tokens: 64, temperature: 0 }),
})).json();
console.log(JSON.stringify({
  resolved: import.meta.resolve('@lmflow/server'),
  page: [page.status, page.headers.get('content-type'), (await page.text()).includes('<title>LMFlow.ts chat</title>')],
  script: [script.status, script.headers.get('content-type')],
  completion,
}));
await server.close();
await engine.close();
`,
    );
    const served = JSON.parse(run(process.execPath, ['serve.mjs', modelDir], app)) as {
      resolved: string;
      page: unknown[];
      script: unknown[];
      completion: { model: string; choices: { text: string; finish_reason: string }[]; usage: unknown };
    };
    expect(served.resolved).toBe(`file://${path.join(app, 'node_modules/@lmflow/server/dist/index.js')}`);
    expect(served.page).toEqual([200, 'text/html; charset=utf-8', true]);
    expect(served.script).toEqual([200, 'text/javascript; charset=utf-8']);
    expect(served.completion).toMatchObject({ model: 'stories260K', choices: [{ text: output.story.text, finish_reason: 'length' }], usage: { prompt_tokens: 1, completion_tokens: 64, total_tokens: 65 } });
  });
});
