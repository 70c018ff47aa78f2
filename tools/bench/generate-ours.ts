/**
 * Our side of `npm run bench:generate`: what users run, @lmflow/inference's generator
 * (createGenerator over a model loaded by @lmflow/models, f32 or bf16 with dtype 'bfloat16', on
 * the native CPU backend), decoding greedily with its KV cache. One process per request;
 * prints one JSON line (see generate-protocol.ts).
 *
 * The generator runs the whole loop itself (prompt pass, device argmax, streaming text
 * decoder, one forward per token), so the times come from its decoder hooks, the points where
 * plugins see generation: processLogits at step 0 marks the prompt's logits (prefill), the
 * first proposeTokens call comes once the first token is on the host and emitted (time to
 * first token), and the call returning ends the decoding steps. Neither tap changes what is
 * computed: processLogits hands the logits on untouched, proposeTokens proposes nothing.
 */
import { createRuntime } from '@lmflow/core';
import { createGenerator } from '@lmflow/inference';
import { loadModel, loadTokenizer } from '@lmflow/models';
import { cast, cpuNumThreads, cpuSimdLevel, setCpuNumThreads } from '@lmflow/tensor';
import { generateTimed, requestFromArgv, writeResult } from './generate-measure.js';
import type { EngineResult, ParityResult } from './generate-protocol.js';

const request = requestFromArgv();
setCpuNumThreads(request.threads);

interface Marks {
  prefilled: number;
  firstToken: number;
  /** Logits of row 0 (f32, host) at step 0 and at the last step; parity runs only. */
  firstLogits: number[] | null;
  lastLogits: number[] | null;
}
let marks: Marks | null = null;
let keepLogits = false;

const runtime = createRuntime();
const hooks = runtime.decoder.hooks;
hooks.processLogits.tap('bench-generate', (logits, context) => {
  if (marks && context.step === 0) marks.prefilled = performance.now();
  if (marks && keepLogits) {
    const row = Array.from((logits.dtype === 'f32' ? logits.select(0, 0) : cast(logits.select(0, 0), 'f32')).dataSync() as Float32Array);
    if (context.step === 0) marks.firstLogits = row;
    marks.lastLogits = row;
  }
  return logits;
});
hooks.proposeTokens.tap('bench-generate', (context) => {
  if (marks && context.step === 1) marks.firstToken = performance.now();
  return undefined;
});

const model = await loadModel(request.folder, { device: 'cpu', dtype: request.dtype === 'bf16' ? 'bfloat16' : 'float32', runtime });
const tokenizer = await loadTokenizer(request.tokenizer);
const generator = createGenerator(model, tokenizer, { runtime });

const result: EngineResult = await generateTimed(request, async (prompts, newTokens, parity) => {
  marks = { prefilled: Number.NaN, firstToken: Number.NaN, firstLogits: null, lastLogits: null };
  keepLogits = parity;
  // Greedy, exactly newTokens per row: no EOS (random weights emit id 2 now and then).
  const options = { maxNewTokens: newTokens, doSample: false, eosTokenIds: [] };
  const start = performance.now();
  const outputs = await generator.generateBatch(prompts, options);
  const done = performance.now();
  const m = marks;
  marks = null;
  if (!Number.isFinite(m.prefilled) || (newTokens > 1 && !Number.isFinite(m.firstToken))) {
    throw new Error('the generator did not call the decoder hooks processLogits (step 0) and proposeTokens (step 1): the timing points are gone');
  }
  const firstToken = newTokens > 1 ? m.firstToken : done;
  const tokens = outputs.map((o) => o.tokenIds);
  const parityResult: ParityResult | null = parity ? { tokens, firstLogits: m.firstLogits!, lastLogits: m.lastLogits! } : null;
  return { times: { prefillMs: m.prefilled - start, ttftMs: firstToken - start, decodeMs: done - firstToken }, parity: parityResult };
}, { engine: `lmflow ${request.dtype}`, version: `@lmflow/inference generator, cpu backend (${cpuSimdLevel()})`, threads: cpuNumThreads() });
writeResult(result);
