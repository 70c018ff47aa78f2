/**
 * `npm run bench:gpu`: the CUDA backend side by side with PyTorch on the same GPU (the peer is
 * tools/bench/gpu_peer.py, run with python3): bf16 GEMM TFLOP/s at 4096^3 and 8192^3, and
 * causal attention forward+backward (bf16, B 4, T 2048, 16 heads of 128). Prints each pair
 * and the ratio against the targets (GEMM >= 0.9x torch.matmul, attention >= 0.7x
 * torch's scaled_dot_product_attention). Exits 0 with a message where there is no GPU.
 *
 * Not yet here: the LoRA finetune tokens/s of a ~1B Llama (the peer measures PyTorch+PEFT's
 * side; ours needs @lmflow/plugin-lora's training API, see docs/guides/cuda.md).
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { backward, cudaStatus, getBackend, matmul, randn, Generator, scaledDotProductAttention, tidy, type Tensor } from '@lmflow/tensor';

const status = cudaStatus();
if (!status.available) {
  console.log(`bench:gpu skipped: ${status.reason}`);
  process.exit(0);
}
const cuda = getBackend('cuda');

async function time(label: string, iterations: number, fn: () => void): Promise<number> {
  for (let i = 0; i < 3; i++) tidy(fn);
  await cuda.sync();
  const start = performance.now();
  for (let i = 0; i < iterations; i++) tidy(fn);
  await cuda.sync();
  const ms = (performance.now() - start) / iterations;
  console.log(`  ${label}: ${ms.toFixed(3)} ms`);
  return ms;
}

const results: Record<string, number> = {};
for (const n of [4096, 8192]) {
  const a = randn([n, n], { device: 'cuda', dtype: 'bf16', generator: new Generator(1) });
  const b = randn([n, n], { device: 'cuda', dtype: 'bf16', generator: new Generator(2) });
  const ms = await time(`bf16 GEMM ${n}^3`, n === 4096 ? 50 : 10, () => void matmul(a, b));
  results[`gemm_${n}_tflops`] = (2 * n ** 3) / (ms * 1e-3) / 1e12;
  a.dispose();
  b.dispose();
}
{
  const [B, T, H, D] = [4, 2048, 16, 128];
  const make = (seed: number): Tensor => randn([B, T, H, D], { device: 'cuda', dtype: 'bf16', generator: new Generator(seed) }).requiresGrad_();
  const [q, k, v] = [make(1), make(2), make(3)];
  const dout = randn([B, T, H, D], { device: 'cuda', dtype: 'bf16', generator: new Generator(4) });
  const ms = await time('attention fwd+bwd bf16 causal B4 T2048 H16 D128', 5, () => {
    backward(scaledDotProductAttention(q, k, v, { causal: true }), { gradient: dout });
    for (const t of [q, k, v]) t.grad = null;
  });
  results.attention_fwd_bwd_ms = ms;
}

const peer = spawnSync('python3', [path.join(path.dirname(fileURLToPath(import.meta.url)), 'gpu_peer.py')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
let torch: Record<string, number> = {};
try {
  torch = JSON.parse(peer.stdout.trim().split('\n').pop() ?? '{}');
} catch {
  console.log(`PyTorch peer failed (exit ${peer.status}): ${peer.stdout}`);
}
const rows: [string, number, number | undefined, number, boolean][] = [
  ['bf16 GEMM 4096^3 TFLOP/s', results.gemm_4096_tflops!, torch.gemm_4096_tflops, 0.9, true],
  ['bf16 GEMM 8192^3 TFLOP/s', results.gemm_8192_tflops!, torch.gemm_8192_tflops, 0.9, true],
  ['attention fwd+bwd ms', results.attention_fwd_bwd_ms!, torch.attention_fwd_bwd_ms, 0.7, false],
];
console.log('\n| measure | LMFlow.ts | PyTorch | ratio (higher is better) | target |');
console.log('|---|---|---|---|---|');
for (const [name, ours, theirs, target, higherIsBetter] of rows) {
  const ratio = theirs === undefined ? NaN : higherIsBetter ? ours / theirs : theirs / ours;
  console.log(`| ${name} | ${ours.toFixed(2)} | ${theirs?.toFixed(2) ?? 'n/a'} | ${ratio.toFixed(2)} | ${target} |`);
}
if (torch.lora_tokens_per_s) console.log(`\nPyTorch+PEFT LoRA step on a ~1B Llama: ${torch.lora_tokens_per_s.toFixed(0)} tokens/s (LMFlow.ts side not measured yet)`);
