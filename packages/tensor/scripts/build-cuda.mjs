// Builds the optional CUDA backend: native-cuda/*.cu and binding.cc, compiled and linked by
// nvcc in ONE call into native-cuda/build/lmflow_cuda.node, a Node-API addon with the CUDA
// runtime linked statically (-cudart static), so it loads on machines without a GPU or driver
// and reports "no device" instead of failing. cuBLAS is opened at run time (dlopen), so
// nothing links against it. Why one N-API addon compiled by nvcc rather than a plain CUDA
// library plus a node-gyp addon that dlopens it: one artifact with no ABI between two
// libraries, and no second node-gyp build beside the CPU backend's.
//
//   node scripts/build-cuda.mjs [--optional] [--check]
//
// --optional (the install step): no nvcc, or a failed build, prints a line and exits 0; the CPU
//   backend works without this library.
// --check: prints whether the built library matches the sources, builds nothing (exit 1 if stale).
// The build is skipped when the sources, flags and nvcc version hash to the stamp beside the
// library (native-cuda/build/lmflow_cuda.stamp). LMFLOW_FORCE_CUDA_BUILD=1 always rebuilds.
// LMFLOW_CUDA_ARCHS=80,89,90 (the default) picks the GPU architectures; CUDA_HOME or NVCC
// picks the compiler.
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const srcDir = path.join(root, 'native-cuda');
const outDir = path.join(srcDir, 'build');
const library = path.join(outDir, 'lmflow_cuda.node');
const stampFile = path.join(outDir, 'lmflow_cuda.stamp');
const optional = process.argv.includes('--optional');
const checkOnly = process.argv.includes('--check');

function skip(message) {
  console.log(`@lmflow/tensor: ${message}`);
  process.exit(optional ? 0 : 1);
}

function findNvcc(env = process.env) {
  const candidates = [env.NVCC, env.CUDA_HOME && path.join(env.CUDA_HOME, 'bin', 'nvcc'), env.CUDA_PATH && path.join(env.CUDA_PATH, 'bin', 'nvcc')];
  for (const dir of (env.PATH ?? '').split(path.delimiter)) if (dir) candidates.push(path.join(dir, 'nvcc'));
  candidates.push('/usr/local/cuda/bin/nvcc');
  return candidates.find((c) => c && fs.existsSync(c)) ?? null;
}

function nodeIncludeDir() {
  const candidates = [
    process.env.npm_config_nodedir && path.join(process.env.npm_config_nodedir, 'include', 'node'),
    path.join(path.dirname(path.dirname(process.execPath)), 'include', 'node'),
    '/usr/include/node',
    '/usr/local/include/node',
  ];
  return candidates.find((d) => d && fs.existsSync(path.join(d, 'node_api.h'))) ?? null;
}

const nvcc = findNvcc();
if (!nvcc) skip('nvcc not found (set CUDA_HOME or NVCC to build the CUDA backend); skipping the optional CUDA backend, the CPU backend is unaffected');
const include = nodeIncludeDir();
if (!include) skip('node_api.h not found (set npm_config_nodedir to a Node.js headers folder); skipping the optional CUDA backend');

const archs = (process.env.LMFLOW_CUDA_ARCHS || '80,89,90').split(',').map((a) => a.trim()).filter(Boolean);
const sources = fs.readdirSync(srcDir).filter((f) => /\.(cu|cc)$/.test(f)).sort();
const headers = fs.readdirSync(srcDir).filter((f) => /\.(h|cuh)$/.test(f)).sort();
const args = [
  '-std=c++17', '-O3', '-shared', '-cudart', 'static', '--threads', '0',
  '-Xcompiler', '-fPIC,-fvisibility=hidden', '-Xcompiler', '-Wall,-Wno-unused-function',
  // sm_90 as sm_90a: Hopper's warpgroup products (wgmma, attention_wgmma.cu) exist only in
  // the architecture-specific target, whose code runs on compute capability 9.0 alone.
  ...archs.flatMap((a) => ['-gencode', a === '90' ? 'arch=compute_90a,code=sm_90a' : `arch=compute_${a},code=sm_${a}`]),
  // PTX of the newest architecture too, so newer GPUs can JIT it.
  '-gencode', `arch=compute_${archs[archs.length - 1]},code=compute_${archs[archs.length - 1]}`,
  `-I${include}`, `-I${srcDir}`, '-DNAPI_VERSION=8', '-DNODE_GYP_MODULE_NAME=lmflow_cuda',
  ...sources.map((f) => path.join(srcDir, f)),
  '-ldl', '-lpthread', '-lrt',
];

const version = spawnSync(nvcc, ['--version'], { encoding: 'utf8' }).stdout ?? '';
const hash = crypto.createHash('sha256');
hash.update(version);
hash.update(JSON.stringify(args.map((a) => a.replace(srcDir, '<src>').replace(include, '<node>'))));
for (const f of [...sources, ...headers]) hash.update(f).update(fs.readFileSync(path.join(srcDir, f)));
const stamp = hash.digest('hex');
const upToDate = fs.existsSync(library) && fs.existsSync(stampFile) && fs.readFileSync(stampFile, 'utf8').trim() === stamp;

if (checkOnly) {
  console.log(upToDate ? `${library} matches its sources` : `${library} is missing or older than its sources`);
  process.exit(upToDate ? 0 : 1);
}
if (upToDate && !process.env.LMFLOW_FORCE_CUDA_BUILD) {
  console.log('@lmflow/tensor: CUDA backend is up to date');
  process.exit(0);
}

fs.mkdirSync(outDir, { recursive: true });
const temporary = `${library}.${process.pid}.tmp`;
console.log(`@lmflow/tensor: building the CUDA backend for sm_${archs.join(', sm_')} with ${nvcc} (a few minutes)`);
const started = Date.now();
const result = spawnSync(nvcc, [...args, '-o', temporary], { stdio: 'inherit' });
if (result.status !== 0) {
  fs.rmSync(temporary, { force: true });
  skip(`the CUDA backend failed to build (nvcc exit ${result.status ?? result.signal}); the CPU backend is unaffected`);
}
// Rename into place: a process loading the library never sees a half-written file.
fs.renameSync(temporary, library);
fs.writeFileSync(stampFile, `${stamp}\n`);
console.log(`@lmflow/tensor: built ${path.relative(process.cwd(), library)} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
