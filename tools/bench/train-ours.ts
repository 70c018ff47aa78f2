/**
 * Our side of `npm run bench:train`, run in its own process so its peak RSS is its own: full
 * finetune steps as the recipe takes them (forward, next-token loss, backward, global-norm
 * clipping, AdamW with decoupled weight decay) on the model and batch of train-model.ts.
 * Prints one JSON line: step times (ms), the first step's loss, peak RSS (KiB).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { cpuNumThreads, div, fromHostArray, noGrad, tidy } from '@lmflow/tensor';
import { loadModel } from '@lmflow/models';
import { clipGradNorm, createAdamW, nextTokenLossSum, weightDecayGroups } from '@lmflow/train';

const { dir, batch, seq, warmup, reps, dtype } = JSON.parse(process.argv[2]!) as { dir: string; batch: number; seq: number; warmup: number; reps: number; dtype: 'float32' | 'bfloat16' };
const model = await loadModel(dir, { device: 'cpu', dtype });
const params = model.namedParameters();
for (const [, t] of params) t.requiresGrad = true;
const optimizer = createAdamW(weightDecayGroups(params, 0.01), { lr: 1e-4, weightDecay: 0.01 });
const idsHost = new Int32Array(readFileSync(path.join(dir, `ids-${batch}x${seq}.bin`)).buffer.slice(0));
// ids: (B, T); the labels are the ids themselves (every token learned, as continued pretraining)
const ids = fromHostArray(idsHost, { shape: [batch, seq], dtype: 'i32', device: 'cpu' });

const times: number[] = [];
let firstLoss = NaN;
for (let i = 0; i < warmup + reps; i++) {
  const start = performance.now();
  const loss = tidy(() => div(nextTokenLossSum(model.forward(ids), ids), batch * (seq - 1)));
  if (i === 0) firstLoss = loss.item();
  loss.backward();
  loss.dispose();
  clipGradNorm(params, 1.0);
  noGrad(() => {
    optimizer.step();
    optimizer.zeroGrad();
  });
  if (i >= warmup) times.push(performance.now() - start);
}
console.log(JSON.stringify({ times, firstLoss, maxRssKiB: process.resourceUsage().maxRSS, threads: cpuNumThreads() }));
