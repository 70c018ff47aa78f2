/**
 * `npm run bench:block`: forward + backward of one Llama decoder block (d=512, 8 heads, 4 KV
 * heads, T=256, B=4, f32) on the native CPU backend, side by side in the same run with the
 * same block in PyTorch on CPU with the same thread count. Prints medians and, last,
 * `ratio=<pytorch time / our time>` (above 1: we are faster).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { arange, cpuNumThreads, cpuSimdLevel, randn, tidy, type Tensor } from '@lmflow/tensor';
import { initTinyLlama, llamaBlock, type TinyLlamaConfig } from '@lmflow/test-utils';
import { ropeInvFreq } from '@lmflow/tensor';
import { findTorchPython, runPythonJson } from './peer-python.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const B = 4;
const T = 256;
const config: TinyLlamaConfig = {
  vocabSize: 8,
  hidden: 512,
  heads: 8,
  kvHeads: 4,
  // Llama's rule: 2/3 of 4d, rounded up to a multiple of 256.
  intermediate: 1536,
  layers: 1,
  rmsNormEps: 1e-5,
  ropeTheta: 10000,
};
const warmup = Number(process.env.BENCH_WARMUP ?? 3);
const reps = Number(process.env.BENCH_REPS ?? 15);
const threads = cpuNumThreads();

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function benchOurs(): number[] {
  const params = initTinyLlama(config, { device: 'cpu', seed: 0 });
  const layer = params.layers[0]!;
  const x = randn([B, T, config.hidden], { device: 'cpu', requiresGrad: true });
  const positions = arange(T, undefined, 1, { device: 'cpu' }).reshape(1, T).expand(B, T).contiguous();
  const invFreq = ropeInvFreq(config.hidden / config.heads, config.ropeTheta, { device: 'cpu' });
  const leaves: Tensor[] = [x, ...Object.values(layer)];
  const times: number[] = [];
  for (let i = 0; i < warmup + reps; i++) {
    for (const t of leaves) {
      t.grad?.dispose();
      t.grad = null;
    }
    const start = performance.now();
    tidy(() => {
      const out = llamaBlock(x, layer, positions, invFreq, config);
      out.sum().backward();
      out.dispose();
    });
    const elapsed = performance.now() - start;
    if (i >= warmup) times.push(elapsed);
  }
  return times;
}

console.log(`Llama block fwd+bwd: d=${config.hidden}, heads=${config.heads}, kv_heads=${config.kvHeads}, ff=${config.intermediate}, T=${T}, B=${B}, f32`);
console.log(`machine: ${threads} threads, SIMD ${cpuSimdLevel()}; ${reps} timed runs after ${warmup} warm-up, medians`);
const ours = median(benchOurs());
console.log(`lmflow (cpu backend):  ${ours.toFixed(1)} ms`);
const torch = findTorchPython();
if (!torch) {
  console.log('PyTorch: not found (set LMFLOW_TORCH_PYTHON, or `apt-get install python3-torch`); our figures only');
  process.exit(0);
}
const peer = runPythonJson<{ median_ms: number; torch: string; threads: number }>(
  torch.python,
  path.join(here, 'block_torch.py'),
  { batch: B, seq: T, hidden: config.hidden, heads: config.heads, kv_heads: config.kvHeads, intermediate: config.intermediate, threads, warmup, reps },
  { OMP_NUM_THREADS: String(threads) },
);
console.log(`pytorch ${peer.torch} (${peer.threads} threads): ${peer.median_ms.toFixed(1)} ms`);
console.log(`ratio=${(peer.median_ms / ours).toFixed(3)}`);
