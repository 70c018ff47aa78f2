/**
 * `npm run bench:train`: training tokens/s and peak memory of full finetune steps (forward,
 * loss, backward, clipping, AdamW) on a ~23M-parameter Llama (d=384, 6 layers, 6 heads,
 * T=256, B=8, f32), ours on the native CPU backend and PyTorch's on CPU, side by side in one
 * run with the same thread count, the same weights and the same batch. Each side runs in a
 * process of its own so its peak RSS is its own. Prints medians, the ratios, and last
 * `ratio=<ours / pytorch tokens per second>` (above 1: we are faster).
 *
 * BENCH_REPS / BENCH_WARMUP change the number of steps; BENCH_DTYPE=bfloat16 runs our side
 * with bf16 weights (and f32 master weights), PyTorch's stays f32.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuNumThreads, cpuSimdLevel } from '@lmflow/tensor';
import { findTorchPython, runPythonJson } from './peer-python.js';
import { ensureTrainBenchFiles } from './train-model.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const B = 8;
const T = 256;
const warmup = Number(process.env.BENCH_WARMUP ?? 2);
const reps = Number(process.env.BENCH_REPS ?? 8);
const dtype = process.env.BENCH_DTYPE === 'bfloat16' ? 'bfloat16' : 'float32';
const threads = cpuNumThreads();
const dir = path.join(root, '.bench', 'train-23m');

interface SideResult {
  times: number[];
  firstLoss: number;
  maxRssKiB: number;
  threads: number;
  torch?: string;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const mib = (kib: number) => `${(kib / 1024).toFixed(0)} MiB`;

const parameters = await ensureTrainBenchFiles(dir, B, T);
console.log(`full finetune step (fwd + loss + bwd + clip + AdamW): Llama d=384, 6 layers, 6 heads, ff 1024, vocab 32000, tied; ${(parameters / 1e6).toFixed(1)}M parameters; B=${B}, T=${T}`);
console.log(`machine: ${threads} threads, SIMD ${cpuSimdLevel()}; ${reps} timed steps after ${warmup} warm-up, medians; ours ${dtype}, PyTorch f32`);

const job = { dir, batch: B, seq: T, warmup, reps, dtype, threads };
const run = spawnSync(process.execPath, ['--import', 'tsx', '--conditions=lmflow-source', path.join(here, 'train-ours.ts'), JSON.stringify(job)], {
  cwd: root,
  encoding: 'utf8',
  env: { ...process.env, LMFLOW_NUM_THREADS: String(threads) },
  maxBuffer: 16 * 1024 * 1024,
});
if (run.status !== 0) throw new Error(`train-ours.ts failed (exit ${run.status}):\n${run.stderr}`);
const ours = JSON.parse(run.stdout.trim().split('\n').pop()!) as SideResult;
const tokens = B * T;
const ourRate = tokens / (median(ours.times) / 1000);
console.log(`lmflow (cpu backend):  ${median(ours.times).toFixed(0)} ms/step  ${ourRate.toFixed(0)} tokens/s  peak RSS ${mib(ours.maxRssKiB)}  first loss ${ours.firstLoss.toFixed(5)}`);

const torch = findTorchPython();
if (!torch) {
  console.log('PyTorch: not found (set LMFLOW_TORCH_PYTHON, or `apt-get install python3-torch`); our figures only');
  process.exit(0);
}
const peer = runPythonJson<SideResult>(torch.python, path.join(here, 'train_torch.py'), job, { OMP_NUM_THREADS: String(threads) });
const peerRate = tokens / (median(peer.times) / 1000);
console.log(`pytorch ${peer.torch} (${peer.threads} threads): ${median(peer.times).toFixed(0)} ms/step  ${peerRate.toFixed(0)} tokens/s  peak RSS ${mib(peer.maxRssKiB)}  first loss ${peer.firstLoss.toFixed(5)}`);
// The same weights and batch give the same loss: a check that both sides run the same model.
const lossGap = Math.abs(ours.firstLoss - peer.firstLoss);
if (dtype === 'float32' && lossGap > 1e-3) console.log(`WARNING: first-step losses differ by ${lossGap.toExponential(2)}: the two sides do not compute the same model`);
console.log(`memory ratio (ours / pytorch peak RSS): ${(ours.maxRssKiB / peer.maxRssKiB).toFixed(3)}`);
console.log(`ratio=${(ourRate / peerRate).toFixed(3)}`);
