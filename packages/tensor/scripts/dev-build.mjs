// Development build of the native CPU backend, without node-gyp, into a folder of your own.
//
//   node scripts/dev-build.mjs <out-dir> [area ...]
//
// Compiles native/addon.cc, native/common/ and the named areas (default: all of them) into
// <out-dir>/lmflow_cpu.node, recompiling only sources newer than their objects (any header
// change recompiles everything). Point the TypeScript side at the result with
// LMFLOW_CPU_ADDON=<out-dir>/lmflow_cpu.node. Several people can build side by side this way
// without sharing build/ (which `npm install` owns).
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const [outArg, ...areas] = process.argv.slice(2);
if (!outArg) {
  console.error('usage: node scripts/dev-build.mjs <out-dir> [area ...]');
  process.exit(2);
}
const out = path.resolve(outArg);
fs.mkdirSync(out, { recursive: true });

const nodedir = process.env.npm_config_nodedir || path.dirname(path.dirname(process.execPath));
const includes = [
  path.join(nodedir, 'include', 'node'),
  require('node-addon-api').include_dir,
  path.join(root, 'native'),
];
const flags = [
  '-std=c++17', '-O3', '-fPIC', '-fexceptions', '-fno-math-errno', '-fvisibility=hidden',
  '-Wall', '-Wno-unused-function', '-DNAPI_VERSION=8', '-DNAPI_CPP_EXCEPTIONS',
  ...includes.map((d) => `-I${d}`),
];

const all = execFileSync('node', [path.join(root, 'scripts/native-sources.cjs')]).toString().trim().split('\n');
const wanted = all.filter((f) => {
  const parts = f.split('/');
  if (parts.length === 2 || parts[1] === 'common') return true;
  return areas.length === 0 || areas.includes(parts[1]);
});

const newestHeader = Math.max(
  ...fs
    .readdirSync(path.join(root, 'native'), { recursive: true })
    .filter((f) => f.endsWith('.h'))
    .map((f) => fs.statSync(path.join(root, 'native', f)).mtimeMs),
);

function compile(src) {
  const obj = path.join(out, src.replace(/[\\/]/g, '__') + '.o');
  const srcTime = fs.statSync(path.join(root, src)).mtimeMs;
  const objTime = fs.existsSync(obj) ? fs.statSync(obj).mtimeMs : 0;
  if (objTime > srcTime && objTime > newestHeader) return Promise.resolve(obj);
  return new Promise((resolve, reject) => {
    const child = spawn('g++', [...flags, '-c', path.join(root, src), '-o', obj], { stdio: 'inherit' });
    child.on('exit', (code) => (code === 0 ? resolve(obj) : reject(new Error(`g++ failed on ${src}`))));
  });
}

async function main() {
  const jobs = Math.max(1, os.availableParallelism?.() ?? 2);
  const queue = [...wanted];
  const objects = [];
  await Promise.all(
    Array.from({ length: jobs }, async () => {
      while (queue.length) objects.push(await compile(queue.shift()));
    }),
  );
  const target = path.join(out, 'lmflow_cpu.node');
  execFileSync('g++', ['-shared', '-pthread', '-o', target + '.tmp', ...objects.sort(), '-ldl'], { stdio: 'inherit' });
  fs.renameSync(target + '.tmp', target);
  console.log(`built ${target} (${wanted.length} sources)`);
}

main().catch((e) => {
  console.error(e.message);
  process.exit(1);
});
