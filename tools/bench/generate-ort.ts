/**
 * The onnxruntime-node side of `npm run bench:generate`: model.onnx (exported by
 * generate_export.py from the same weights) in an InferenceSession on the CPU execution
 * provider with intraOpNumThreads = our thread count, driven the way transformers.js drives a
 * decoder with past: each step feeds the previous step's present_* outputs back as past_*.
 * One process per request (see generate-measure.ts); prints one JSON line.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { generateTimed, greedyLoop, requestFromArgv, writeResult, type GreedyEngine } from './generate-measure.js';

interface Layout {
  layers: number;
  kvHeads: number;
  headDim: number;
}

function readLayout(folder: string): Layout {
  const config = JSON.parse(readFileSync(path.join(folder, 'config.json'), 'utf8')) as Record<string, number>;
  const heads = config.num_attention_heads!;
  return { layers: config.num_hidden_layers!, kvHeads: config.num_key_value_heads ?? heads, headDim: config.head_dim ?? config.hidden_size! / heads };
}

function ortEngine(session: ort.InferenceSession, layout: Layout): GreedyEngine {
  let past: Record<string, ort.Tensor> = {};
  // The (B, 1) ids of a decoding step: one tensor per generation, refilled every step.
  let stepIds: BigInt64Array = new BigInt64Array(0);
  let stepTensor: ort.Tensor | null = null;
  return {
    begin(batch) {
      past = {};
      const empty = new Float32Array(0);
      for (let i = 0; i < layout.layers; i++) {
        past[`past_key_${i}`] = new ort.Tensor('float32', empty, [batch, layout.kvHeads, 0, layout.headDim]);
        past[`past_value_${i}`] = new ort.Tensor('float32', empty, [batch, layout.kvHeads, 0, layout.headDim]);
      }
      stepIds = new BigInt64Array(batch);
      stepTensor = new ort.Tensor('int64', stepIds, [batch, 1]);
    },
    async forward(ids, batch, length) {
      let input: ort.Tensor;
      if (length === 1) {
        for (let b = 0; b < batch; b++) stepIds[b] = BigInt(ids[b]!);
        input = stepTensor!;
      } else {
        input = new ort.Tensor('int64', BigInt64Array.from(ids, (id) => BigInt(id)), [batch, length]);
      }
      const out = await session.run({ input_ids: input, ...past });
      for (let i = 0; i < layout.layers; i++) {
        past[`past_key_${i}`] = out[`present_key_${i}`]!;
        past[`past_value_${i}`] = out[`present_value_${i}`]!;
      }
      // logits: (B, T, V) -> the last position of each sequence (B, V)
      const logits = out.logits!;
      const [, T, V] = logits.dims as [number, number, number];
      const data = logits.data as Float32Array;
      if (T === 1) return data;
      const last = new Float32Array(batch * V);
      for (let b = 0; b < batch; b++) last.set(data.subarray((b * T + T - 1) * V, (b * T + T) * V), b * V);
      return last;
    },
    end() {
      past = {};
    },
  };
}

const request = requestFromArgv();
const session = await ort.InferenceSession.create(path.join(request.folder, 'model.onnx'), {
  executionProviders: ['cpu'],
  intraOpNumThreads: request.threads,
  interOpNumThreads: 1,
  executionMode: 'sequential',
  graphOptimizationLevel: 'all',
});
const info = { engine: 'onnxruntime-node f32', version: `onnxruntime-node ${ort.env.versions.node}`, threads: request.threads };
writeResult(await generateTimed(request, greedyLoop(ortEngine(session, readLayout(request.folder))), info));
