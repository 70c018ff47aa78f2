/**
 * `npm run bench:gpu`: the CUDA backend side by side with PyTorch on the same GPU (the peer is
 * tools/bench/gpu_peer.py, run with python3): bf16 GEMM TFLOP/s at 4096^3 and 8192^3, and
 * causal attention forward+backward (bf16, B 4, T 2048, 16 heads of 128). Prints each pair
 * and the ratio against the targets (GEMM >= 0.9x torch.matmul, attention >= 0.7x
 * torch's scaled_dot_product_attention), and the training tokens/s of a LoRA finetune (r 8,
 * alpha 16, q_proj and v_proj, no dropout, bf16, batch 4 x 1024 tokens) of a ~1B-parameter
 * Llama with random weights: the peer builds the model, times PyTorch+PEFT steps and saves the
 * weights, then `lmflow finetune --device cuda --use_lora` trains the same weights on packed
 * wikitext (target: at least 1.0x). Exits 0 with a message where there is no GPU.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadDataset, writeDataset } from '@lmflow/data';
import { backward, cudaStatus, getBackend, matmul, randn, Generator, scaledDotProductAttention, tidy, type Tensor } from '@lmflow/tensor';

const status = cudaStatus();
if (!status.available) {
  console.log(`bench:gpu skipped: ${status.reason}`);
  process.exit(0);
}
const cuda = getBackend('cuda');

async function time(label: string, iterations: number, fn: () => void): Promise<number> {
  // Warm up for half a second at least, so the GPU is at its working clock (the peer does too).
  const warm = performance.now();
  for (let i = 0; i < 3 || performance.now() - warm < 500; i++) {
    tidy(fn);
    if (i % 8 === 7) await cuda.sync();
  }
  await cuda.sync();
  const start = performance.now();
  for (let i = 0; i < iterations; i++) tidy(fn);
  await cuda.sync();
  const ms = (performance.now() - start) / iterations;
  console.log(`  ${label}: ${ms.toFixed(3)} ms`);
  return ms;
}

// BENCH_GPU_ONLY=lora: only LMFlow.ts's LoRA run, on the model an earlier full run saved (with
// LMFLOW_CUDA_PROFILE=1 it prints where the step's GPU time goes).
const loraOnly = process.env.BENCH_GPU_ONLY === 'lora';
const results: Record<string, number> = {};
for (const n of loraOnly ? [] : [4096, 8192]) {
  const a = randn([n, n], { device: 'cuda', dtype: 'bf16', generator: new Generator(1) });
  const b = randn([n, n], { device: 'cuda', dtype: 'bf16', generator: new Generator(2) });
  const ms = await time(`bf16 GEMM ${n}^3`, n === 4096 ? 50 : 10, () => void matmul(a, b));
  results[`gemm_${n}_tflops`] = (2 * n ** 3) / (ms * 1e-3) / 1e12;
  a.dispose();
  b.dispose();
}
if (!loraOnly) {
  const [B, T, H, D] = [4, 2048, 16, 128];
  const make = (seed: number): Tensor => randn([B, T, H, D], { device: 'cuda', dtype: 'bf16', generator: new Generator(seed) }).requiresGrad_();
  const [q, k, v] = [make(1), make(2), make(3)];
  const dout = randn([B, T, H, D], { device: 'cuda', dtype: 'bf16', generator: new Generator(4) });
  const ms = await time('attention fwd+bwd bf16 causal B4 T2048 H16 D128', 30, () => {
    backward(scaledDotProductAttention(q, k, v, { causal: true }), { gradient: dout });
    for (const t of [q, k, v]) t.grad = null;
  });
  results.attention_fwd_bwd_ms = ms;
}

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const shared = path.resolve(root, '../shared');
const loraModel = path.join(root, '.bench', 'gpu-lora-1b');
mkdirSync(loraModel, { recursive: true });
const peer = loraOnly
  ? { status: 0, stdout: '{}' }
  : spawnSync('python3', [path.join(here, 'gpu_peer.py'), loraModel], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
let torch: Record<string, number> = {};
try {
  torch = JSON.parse(peer.stdout.trim().split('\n').pop() ?? '{}');
} catch {
  console.log(`PyTorch peer failed (exit ${peer.status}): ${peer.stdout}`);
}

/** LMFlow.ts's LoRA finetune of the weights the peer saved: median tokens/s of steps 2.., or undefined. */
async function loraTokensPerSecond(): Promise<number | undefined> {
  if (!existsSync(path.join(loraModel, 'config.json'))) return undefined;
  for (const file of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(path.join(shared, 'tokenizers', 'llama2', file), path.join(loraModel, file));
  const data = path.join(root, '.bench', 'gpu-lora-wikitext.json');
  if (!existsSync(data)) {
    const full = await loadDataset(path.join(shared, 'data', 'wikitext-2-raw-v1-test.json'));
    const keep = full.instances.map((_, i) => i).filter((i) => ((full.instances[i] as { text: string }).text ?? '').trim().length > 0).slice(0, 1500);
    await writeDataset({ ...full, instances: keep.map((i) => full.instances[i]!), origins: keep.map((i) => full.origins[i]!) } as typeof full, data);
  }
  const outputDir = mkdtempSync(path.join(os.tmpdir(), 'lmflow-bench-gpu-lora-'));
  const flags = [
    '--model_name_or_path', loraModel, '--dataset_path', data, '--device', 'cuda', '--torch_dtype', 'bfloat16',
    '--use_lora', '--lora_r', '8', '--lora_alpha', '16', '--lora_dropout', '0', '--lora_target_modules', 'q_proj,v_proj',
    '--block_size', '1024', '--packing', '--per_device_train_batch_size', '4', '--max_steps', '10', '--logging_steps', '1',
    '--learning_rate', '1e-4', '--max_grad_norm', '0', '--seed', '1',
  ];
  const run = spawnSync(process.execPath, ['--import', 'tsx', '--conditions=lmflow-source', path.join(here, 'peft-run.ts'), JSON.stringify({ flags, outputDir })], {
    cwd: root, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'inherit'],
  });
  rmSync(outputDir, { recursive: true, force: true });
  if (run.status !== 0) {
    console.log(`LMFlow.ts LoRA finetune failed (exit ${run.status})`);
    return undefined;
  }
  const { rates } = JSON.parse(run.stdout.trim().split('\n').pop()!) as { rates: number[] };
  console.log(`  LoRA finetune tokens/s per step: ${rates.map((r) => r.toFixed(0)).join(' ')}`);
  const timed = [...rates.slice(1)].sort((a, b) => a - b);
  return timed[Math.floor(timed.length / 2)];
}
results.lora_tokens_per_s = (await loraTokensPerSecond()) ?? NaN;

const rows: [string, number | undefined, number | undefined, number, boolean][] = [
  ['bf16 GEMM 4096^3 TFLOP/s', results.gemm_4096_tflops, torch.gemm_4096_tflops, 0.9, true],
  ['bf16 GEMM 8192^3 TFLOP/s', results.gemm_8192_tflops, torch.gemm_8192_tflops, 0.9, true],
  ['attention fwd+bwd ms', results.attention_fwd_bwd_ms, torch.attention_fwd_bwd_ms, 0.7, false],
  ['LoRA finetune tokens/s (~1B Llama, bf16)', results.lora_tokens_per_s, torch.lora_tokens_per_s, 1.0, true],
];
console.log('\n| measure | LMFlow.ts | PyTorch | ratio (higher is better) | target |');
console.log('|---|---|---|---|---|');
for (const [name, ours, theirs, target, higherIsBetter] of rows) {
  if (ours === undefined) continue; // BENCH_GPU_ONLY=lora
  const ratio = theirs === undefined ? NaN : higherIsBetter ? ours / theirs : theirs / ours;
  console.log(`| ${name} | ${ours.toFixed(2)} | ${theirs?.toFixed(2) ?? 'n/a'} | ${ratio.toFixed(2)} | ${target} |`);
}
