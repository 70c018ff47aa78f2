/**
 * `npm run demo`: what the tensor package does today, in a minute on a laptop CPU.
 * Trains a tiny two-layer Llama (GQA attention, SwiGLU, RMSNorm, RoPE) to continue a
 * repeating pattern, on the native CPU backend, and shows it continuing a prompt.
 */
import { adamwUpdate, argmax, arange, cpuNumThreads, cpuSimdLevel, defaultDevice, noGrad, tensor, tidy, zerosLike } from '@lmflow/tensor';
import { initTinyLlama, parameterList, tinyLlamaLogits, tinyLlamaLoss, type TinyLlamaConfig } from '@lmflow/test-utils';

const device = defaultDevice();
const config: TinyLlamaConfig = { vocabSize: 16, hidden: 64, heads: 4, kvHeads: 2, intermediate: 128, layers: 2, rmsNormEps: 1e-5, ropeTheta: 10000 };
const patterns = [
  [1, 2, 3, 4, 5],
  [6, 8, 10, 12],
  [13, 14, 15],
];
const T = 24;
const rows = patterns.map((p) => Array.from({ length: T + 1 }, (_, i) => p[i % p.length]!));

console.log(`@lmflow/tensor demo: device ${device}${device === 'cpu' ? ` (${cpuNumThreads()} threads, SIMD ${cpuSimdLevel()})` : ''}`);
console.log(`model: ${config.layers}-layer Llama, hidden ${config.hidden}, ${config.heads} heads / ${config.kvHeads} KV heads`);

const params = initTinyLlama(config, { device, seed: 7 });
const list = parameterList(params);
console.log(`parameters: ${list.reduce((n, p) => n + p.size, 0).toLocaleString()}`);
const state = list.map((p) => ({ m: zerosLike(p), v: zerosLike(p) }));
const ids = tensor(rows.map((r) => r.slice(0, T)), { device, dtype: 'i32' });
const targets = tensor(rows.map((r) => r.slice(1)), { device, dtype: 'i32' });
const positions = tidy(() => arange(T, undefined, 1, { device }).reshape(1, T).expand(rows.length, T).contiguous());

const steps = 60;
const start = performance.now();
for (let step = 1; step <= steps; step++) {
  const loss = tidy(() => tinyLlamaLoss(params, ids, targets, positions, config));
  loss.backward();
  const value = loss.item();
  loss.dispose();
  noGrad(() =>
    list.forEach((p, i) => {
      adamwUpdate(p, p.grad!, state[i]!.m, state[i]!.v, { lr: 3e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, step });
      p.grad!.dispose();
      p.grad = null;
    }),
  );
  if (step === 1 || step % 10 === 0) console.log(`step ${String(step).padStart(3)}  loss ${value.toFixed(4)}`);
}
const seconds = (performance.now() - start) / 1000;
console.log(`trained ${steps} steps in ${seconds.toFixed(2)} s (${((steps * rows.length * T) / seconds).toFixed(0)} tokens/s)`);

// Greedy continuation of a prompt from each pattern.
for (const pattern of patterns) {
  const tokens = [...pattern, pattern[0]!];
  for (let i = 0; i < 8; i++) {
    const next = noGrad(() =>
      tidy(() => {
        const n = tokens.length;
        const logits = tinyLlamaLogits(params, tensor([tokens], { device, dtype: 'i32' }), arange(n, undefined, 1, { device }).reshape(1, n), config);
        return argmax(logits.select(1, n - 1), -1).item();
      }),
    );
    tokens.push(next);
  }
  console.log(`prompt ${JSON.stringify([...pattern, pattern[0]])} -> continues ${JSON.stringify(tokens.slice(pattern.length + 1))}`);
}
for (const t of [...list, ...state.flatMap((s) => [s.m, s.v]), ids, targets, positions]) t.dispose();
