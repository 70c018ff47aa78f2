/**
 * `npm run test:gpu`, training level: `lmflow finetune --use_lora` on stories260K (a real Llama,
 * ../shared) runs on cuda and gives the same per-step losses and the same saved PEFT adapter as
 * on cpu: the whole recipe (data, LoRA plugin, AdamW, scheduler, checkpoint-free save) on the
 * GPU. Skipped where no GPU is present.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '@lmflow/cli';
import { loadSafetensors } from '@lmflow/models';
import { expectClose } from '@lmflow/test-utils';
import { cudaStatus } from '@lmflow/tensor';
import { readMetrics, METRICS_FILE } from '@lmflow/train';

const status = cudaStatus();
if (!status.available) console.warn(`lora.gpu.test: skipped, ${status.reason}`);
const shared = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../shared');
const scratch = mkdtempSync(path.join(os.tmpdir(), 'lmflow-lora-gpu-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

async function finetune(device: string): Promise<{ losses: number[]; adapter: Map<string, import('@lmflow/tensor').Tensor> }> {
  const outputDir = path.join(scratch, device);
  let stderr = '';
  const code = await runCli([
    'finetune', '--model_name_or_path', path.join(shared, 'models', 'stories260K'),
    '--dataset_path', path.join(shared, 'data', 'wikitext-2-raw-v1-test.json'), '--device', device,
    '--use_lora', '--lora_r', '4', '--lora_alpha', '8', '--lora_dropout', '0', '--lora_target_modules', 'all-linear',
    '--block_size', '128', '--packing', '--per_device_train_batch_size', '2', '--max_steps', '3', '--logging_steps', '1',
    '--learning_rate', '1e-2', '--seed', '3', '--output_dir', outputDir,
  ], { stdout: { write: () => true }, stderr: { write: (chunk: string) => ((stderr += chunk), true) } });
  expect(code, stderr).toBe(0);
  const losses = (await readMetrics(path.join(outputDir, METRICS_FILE))).flatMap((r) => (typeof r.loss === 'number' ? [r.loss] : []));
  const { tensors } = await loadSafetensors(path.join(outputDir, 'adapter_model.safetensors'), { device: 'cpu' });
  return { losses, adapter: tensors };
}

describe.skipIf(!status.available)('lmflow finetune --use_lora on cuda', () => {
  it('gives the losses and the adapter it gives on cpu', async () => {
    const cpu = await finetune('cpu');
    const gpu = await finetune('cuda');
    expect(gpu.losses.length).toBe(3);
    gpu.losses.forEach((l, i) => expect(l).toBeCloseTo(cpu.losses[i]!, 3));
    expect([...gpu.adapter.keys()].sort()).toEqual([...cpu.adapter.keys()].sort());
    for (const [name, t] of cpu.adapter) expectClose(gpu.adapter.get(name)!, t, { atol: 1e-4, rtol: 1e-3 }, name);
  }, 180_000);
});
