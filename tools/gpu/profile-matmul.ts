/**
 * Times the matrix products of a LoRA step of the ~1B Llama of `npm run bench:gpu` one by one
 * (bf16), beside torch.matmul on the same layouts: the skinny rank-8 products and the large
 * ones. For tuning on a GPU machine:
 *   node --import tsx --conditions=lmflow-source tools/gpu/profile-matmul.ts
 */
import { spawnSync } from 'node:child_process';
import { cudaStatus, getBackend, matmul, randn, Generator, tidy, type Tensor } from '@lmflow/tensor';

const status = cudaStatus();
if (!status.available) {
  console.log(`profile-matmul skipped: ${status.reason}`);
  process.exit(0);
}
const cuda = getBackend('cuda');
// [M, N, K, a transposed, b transposed]: out (M, N) = a (M, K) @ b (K, N).
const shapes: [number, number, number, boolean, boolean][] = [
  [4092, 8, 2048, false, true], [4092, 2048, 8, false, true], [2048, 8, 4092, true, false], [8, 2048, 4092, true, false],
  [512, 8, 4092, true, false], [4092, 5632, 2048, false, true], [4092, 2048, 5632, false, false], [4092, 32000, 2048, false, true],
];
const make = (rows: number, cols: number, transposed: boolean, seed: number): Tensor =>
  transposed ? randn([cols, rows], { device: 'cuda', dtype: 'bf16', generator: new Generator(seed) }).transpose(0, 1)
    : randn([rows, cols], { device: 'cuda', dtype: 'bf16', generator: new Generator(seed) });
const torch = `
import sys, time, torch
M, N, K, ta, tb = map(int, sys.argv[1:6])
a = torch.randn(K, M, device="cuda", dtype=torch.bfloat16).t() if ta else torch.randn(M, K, device="cuda", dtype=torch.bfloat16)
b = torch.randn(N, K, device="cuda", dtype=torch.bfloat16).t() if tb else torch.randn(K, N, device="cuda", dtype=torch.bfloat16)
for _ in range(10): a @ b
torch.cuda.synchronize(); s = time.perf_counter()
for _ in range(50): a @ b
torch.cuda.synchronize(); print((time.perf_counter() - s) / 50 * 1e3)
`;
for (const [M, N, K, ta, tb] of shapes) {
  const a = make(M, K, ta, 1);
  const b = make(K, N, tb, 2);
  for (let i = 0; i < 10; i++) tidy(() => void matmul(a, b));
  await cuda.sync();
  const start = performance.now();
  for (let i = 0; i < 50; i++) tidy(() => void matmul(a, b));
  await cuda.sync();
  const ours = (performance.now() - start) / 50;
  const peer = process.env.NO_TORCH ? null : spawnSync('python3', ['-c', torch, ...[M, N, K, Number(ta), Number(tb)].map(String)], { encoding: 'utf8' });
  const theirs = peer?.status === 0 ? Number(peer.stdout.trim()) : NaN;
  console.log(`${M}x${N}x${K}${ta ? ' aT' : ''}${tb ? ' bT' : ''}: ${ours.toFixed(4)} ms (torch ${theirs.toFixed(4)} ms)`);
  a.dispose();
  b.dispose();
}
