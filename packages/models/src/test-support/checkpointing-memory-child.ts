/**
 * Child process of the gradient-checkpointing memory test: loads a model folder, runs one
 * forward and backward pass over a (B, T) batch, and prints the process's peak RSS in bytes
 * as JSON. A process of its own per measurement, so earlier tests leave nothing behind.
 *
 *   node --import tsx --conditions=lmflow-source checkpointing-memory-child.ts <model dir> <B> <T> <on|off>
 */
import { crossEntropy, tensor } from '@lmflow/tensor';
import { loadModel } from '../index.js';

const [dir, batch, time, mode] = process.argv.slice(2);
const B = Number(batch);
const T = Number(time);
const model = await loadModel(dir!, { device: 'cpu' });
for (const [, t] of model.namedParameters()) t.requiresGrad = true;
// ids: (B, T), a fixed pattern over the vocabulary
const ids = tensor(Array.from({ length: B * T }, (_, i) => (i * 7 + 3) % model.vocabSize), { dtype: 'i32', shape: [B, T], device: 'cpu' });
const logits = model.forward(ids, { gradientCheckpointing: mode === 'on' });
const loss = crossEntropy(logits.reshape(B * T, model.vocabSize), ids.reshape(B * T));
loss.backward();
const gradBytes = model.namedParameters().reduce((n, [, t]) => n + (t.grad ? t.grad.size * 4 : 0), 0);
process.stdout.write(`${JSON.stringify({ peakRss: process.resourceUsage().maxRSS * 1024, loss: loss.item(), gradBytes })}\n`);
