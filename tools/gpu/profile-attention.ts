/**
 * Times the attention forward and backward of the CUDA backend separately, at the shape of
 * `npm run bench:gpu` (bf16, causal, B 4, T 2048, 16 heads of 128) and at the shape of its LoRA
 * run (B 4, T 1024, 32 heads of 64), beside PyTorch's scaled_dot_product_attention when
 * python3 has torch. For tuning the kernels on a GPU machine:
 *   node --import tsx --conditions=lmflow-source tools/gpu/profile-attention.ts
 */
import { spawnSync } from 'node:child_process';
import { backward, cudaStatus, getBackend, randn, Generator, scaledDotProductAttention, tidy, type Tensor } from '@lmflow/tensor';

const status = cudaStatus();
if (!status.available) {
  console.log(`profile-attention skipped: ${status.reason}`);
  process.exit(0);
}
const cuda = getBackend('cuda');

// ATTENTION_ITERATIONS lowers the repetitions (under ncu, say); NO_TORCH=1 skips the peer.
const iterations = Number(process.env.ATTENTION_ITERATIONS ?? 20);

// The median over 3 rounds of the time per call of `iterations` calls queued back to back (a
// sync per call would add its own latency to every figure).
async function median(fn: () => void): Promise<number> {
  for (let i = 0; i < Math.min(5, iterations); i++) tidy(fn);
  await cuda.sync();
  const times: number[] = [];
  for (let round = 0; round < 3; round++) {
    const start = performance.now();
    for (let i = 0; i < iterations; i++) tidy(fn);
    await cuda.sync();
    times.push((performance.now() - start) / iterations);
  }
  return times.sort((a, b) => a - b)[1]!;
}

const torch = `
import sys, time, torch
B, T, H, D = map(int, sys.argv[1:5])
q, k, v = (torch.randn(B, H, T, D, device="cuda", dtype=torch.bfloat16, requires_grad=True) for _ in range(3))
g = torch.randn(B, H, T, D, device="cuda", dtype=torch.bfloat16)
n = int(sys.argv[5])
def med(fn):
    for _ in range(5): fn()
    torch.cuda.synchronize()
    ts = []
    for _ in range(3):
        s = time.perf_counter()
        for _ in range(n): fn()
        torch.cuda.synchronize(); ts.append((time.perf_counter() - s) * 1e3 / n)
    return sorted(ts)[1]
f = med(lambda: torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True))
def fb():
    torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True).backward(g)
    q.grad = k.grad = v.grad = None
print(f, med(fb))
`;
for (const [B, T, H, D] of [[4, 2048, 16, 128], [4, 1024, 32, 64]] as const) {
  const make = (seed: number): Tensor => randn([B, T, H, D], { device: 'cuda', dtype: 'bf16', generator: new Generator(seed) }).requiresGrad_();
  const [q, k, v] = [make(1), make(2), make(3)];
  const dout = randn([B, T, H, D], { device: 'cuda', dtype: 'bf16', generator: new Generator(4) });
  const fwd = await median(() => void scaledDotProductAttention(q, k, v, { causal: true }));
  const both = await median(() => {
    backward(scaledDotProductAttention(q, k, v, { causal: true }), { gradient: dout });
    for (const t of [q, k, v]) t.grad = null;
  });
  const flops = (4 * B * H * T * T * D) / 2; // causal forward
  const peer = process.env.NO_TORCH ? { status: 1, stdout: '' } : spawnSync('python3', ['-c', torch, String(B), String(T), String(H), String(D), String(iterations)], { encoding: 'utf8' });
  const [tf, tb] = peer.status === 0 ? peer.stdout.trim().split(/\s+/).map(Number) : [NaN, NaN];
  console.log(`B${B} T${T} H${H} D${D}: forward ${fwd.toFixed(3)} ms (${(flops / fwd / 1e9).toFixed(0)} TFLOP/s; torch ${tf!.toFixed(3)}), `
    + `backward ${(both - fwd).toFixed(3)} ms (torch ${(tb! - tf!).toFixed(3)}), fwd+bwd ${both.toFixed(3)} ms (torch ${tb!.toFixed(3)})`);
  for (const t of [q, k, v, dout]) t.dispose();
}
