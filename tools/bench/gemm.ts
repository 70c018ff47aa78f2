/**
 * `npm run bench:gemm`: f32 GEMM throughput of the native CPU backend against OpenBLAS, side
 * by side in the same run, on all threads of the pool (OpenBLAS gets as many).
 *
 * Each repetition times one call of each library (alternating which goes first) with both
 * idle before it: OpenBLAS's threads keep spinning for a while after a call, and ours would
 * otherwise pay for it. Prints medians per size and, last, `ratio=<minimum over sizes of our
 * median / OpenBLAS's median>` (1 means as fast as OpenBLAS).
 *
 * BENCH_REPS (default 9) and BENCH_WARMUP (default 2) change the repetitions.
 */
import { cpuNumThreads, cpuSimdLevel, getBackend, tensor, type Tensor } from '@lmflow/tensor';
import { openBlasPeer } from './gemm-openblas.js';

// (M, K, N): C (M x N) = A (M x K) @ B (K x N)
const SIZES: [number, number, number][] = [
  [1024, 1024, 1024],
  [768, 3072, 768],
  [2048, 2048, 2048],
];
const reps = Number(process.env.BENCH_REPS ?? 9);
const warmup = Number(process.env.BENCH_WARMUP ?? 2);
const idleMs = 150;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function randomMatrix(n: number, seed: number): Float32Array {
  // A small LCG: reproducible, uniform in [-1, 1).
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

function label([M, K, N]: [number, number, number]): string {
  const dims = `${M}x${K}x${N}`;
  return M === K && K === N ? dims : `${dims} (M=${M}, K=${K}, N=${N})`;
}

async function main(): Promise<void> {
  const threads = cpuNumThreads();
  const backend = getBackend('cpu');
  const peer = openBlasPeer(threads);
  console.log('f32 GEMM, C (M x N) = A (M x K) @ B (K x N), row-major; sizes as MxKxN');
  console.log(`ours: native cpu backend, ${threads} threads (the pool: LMFLOW_NUM_THREADS or all cores), SIMD ${cpuSimdLevel()}`);
  if ('error' in peer) console.log(`OpenBLAS: missing (${peer.error}); our figures only`);
  else console.log(`OpenBLAS: ${peer.library}, kernel ${peer.corename}, ${peer.threads} threads`);
  console.log(`medians of ${reps} runs after ${warmup} warm-up runs, ${idleMs} ms idle before each run\n`);

  const ratios: number[] = [];
  for (const size of SIZES) {
    const [M, K, N] = size;
    const flop = 2 * M * N * K;
    const a = randomMatrix(M * K, 1);
    const b = randomMatrix(K * N, 2);
    const cPeer = new Float32Array(M * N);
    const at = tensor(a, { device: 'cpu', shape: [M, K] });
    const bt = tensor(b, { device: 'cpu', shape: [K, N] });
    const ct: Tensor = tensor(new Float32Array(M * N), { device: 'cpu', shape: [M, N] });
    const runOurs = () => backend.matmul(at, bt, ct, { alpha: 1, beta: 0 });
    const runPeer = () => ('error' in peer ? undefined : peer.sgemm(a, b, cPeer, M, N, K));
    const time = async (fn: () => void) => {
      await sleep(idleMs);
      const start = process.hrtime.bigint();
      fn();
      return flop / Number(process.hrtime.bigint() - start); // GFLOP/s (flop per ns)
    };

    const ours: number[] = [];
    const theirs: number[] = [];
    for (let i = 0; i < warmup + reps; i++) {
      const first = i % 2 === 0;
      const o1 = first ? await time(runOurs) : 0;
      const p = 'error' in peer ? 0 : await time(runPeer);
      const o2 = first ? 0 : await time(runOurs);
      if (i >= warmup) {
        ours.push(o1 || o2);
        theirs.push(p);
      }
    }
    const oursMedian = median(ours);
    if ('error' in peer) {
      console.log(`${label(size)}: ours ${oursMedian.toFixed(1)} GFLOP/s`);
    } else {
      // Both must have computed the same product, or the comparison means nothing.
      const got = ct.dataSync() as Float32Array;
      let worst = 0;
      for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i]! - cPeer[i]!) / (Math.abs(cPeer[i]!) + 1));
      if (!(worst < 1e-3)) throw new Error(`bench:gemm: ${label(size)}: our result differs from OpenBLAS's (worst relative ${worst})`);
      const theirMedian = median(theirs);
      const ratio = oursMedian / theirMedian;
      ratios.push(ratio);
      console.log(
        `${label(size)}: ours ${oursMedian.toFixed(1)} GFLOP/s, OpenBLAS ${theirMedian.toFixed(1)} GFLOP/s, ratio ${ratio.toFixed(3)}`,
      );
    }
    at.dispose();
    bt.dispose();
    ct.dispose();
  }
  if (ratios.length) console.log(`ratio=${Math.min(...ratios).toFixed(3)}`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
