/**
 * How the engines of `npm run bench:generate` are timed. Every engine runs the same steps: the
 * prompt's forward pass, a greedy pick, then newTokens - 1 decoding steps of one token per
 * sequence. onnxruntime-node has no generation loop of its own, so greedyLoop drives it here;
 * ours runs @lmflow/inference's generator (generate-ours.ts), and the PyTorch side
 * (generate_torch.py) mirrors greedyLoop line for line.
 */
import type { EngineRequest, EngineResult, ParityResult, RunTimes } from './generate-protocol.js';

/** One engine with its KV cache, driven one forward pass at a time. */
export interface GreedyEngine {
  /** Starts a generation of `batch` sequences (a new, empty cache). */
  begin(batch: number, capacity: number): void;
  /**
   * Runs ids (batch x length, row-major) after what the cache holds and returns the logits
   * of each sequence's last position: batch x vocab, row-major.
   */
  forward(ids: Int32Array, batch: number, length: number): Promise<Float32Array>;
  /** Frees the generation's cache. */
  end(): void;
}

/** Index of the largest logit of each row (the first one on ties, as torch.argmax). */
export function argmaxRows(logits: Float32Array, rows: number, out: Int32Array): Int32Array {
  const vocab = logits.length / rows;
  for (let r = 0; r < rows; r++) {
    const base = r * vocab;
    let best = 0;
    let bestValue = logits[base]!;
    for (let v = 1; v < vocab; v++) {
      const value = logits[base + v]!;
      if (value > bestValue) {
        bestValue = value;
        best = v;
      }
    }
    out[r] = best;
  }
  return out;
}

/** One generation of the first `batch` prompts: its times, and tokens and logits when asked. */
export interface Generation {
  times: Omit<RunTimes, 'batch'>;
  parity: ParityResult | null;
}

/** Generates newTokens tokens for each of the given prompts (all of the same length). */
export type RunOnce = (prompts: number[][], newTokens: number, parity: boolean) => Promise<Generation>;

/** A RunOnce that drives a GreedyEngine: onnxruntime-node's loop, written here as its users write it. */
export function greedyLoop(engine: GreedyEngine): RunOnce {
  return async (prompts, newTokens, parity) => {
    const batch = prompts.length;
    const length = prompts[0]!.length;
    const ids = new Int32Array(batch * length);
    for (let b = 0; b < batch; b++) ids.set(prompts[b]!, b * length);
    const next = new Int32Array(batch);
    const tokens: number[][] = Array.from({ length: batch }, () => []);
    engine.begin(batch, length + newTokens);
    try {
      const start = performance.now();
      let logits = await engine.forward(ids, batch, length);
      const prefilled = performance.now();
      argmaxRows(logits, batch, next);
      const first = performance.now();
      const firstLogits = parity ? Array.from(logits.subarray(0, logits.length / batch)) : [];
      for (let b = 0; b < batch; b++) tokens[b]!.push(next[b]!);
      for (let step = 1; step < newTokens; step++) {
        logits = await engine.forward(next, batch, 1);
        argmaxRows(logits, batch, next);
        for (let b = 0; b < batch; b++) tokens[b]!.push(next[b]!);
      }
      const done = performance.now();
      return {
        times: { prefillMs: prefilled - start, ttftMs: first - start, decodeMs: done - first },
        parity: parity ? { tokens, firstLogits, lastLogits: Array.from(logits.subarray(0, logits.length / batch)) } : null,
      };
    } finally {
      engine.end();
    }
  };
}

/** Serves a request: the parity run at the largest batch, or warm-up and timed runs at every batch size. */
export async function generateTimed(request: EngineRequest, runOnce: RunOnce, info: Omit<EngineResult, 'runs' | 'parity'>): Promise<EngineResult> {
  if (request.mode === 'parity') {
    const batch = Math.max(...request.batches);
    const { parity } = await runOnce(request.prompts.slice(0, batch), request.newTokens, true);
    return { ...info, parity: parity! };
  }
  const runs: RunTimes[] = [];
  for (let rep = 0; rep < request.warmup + request.reps; rep++) {
    for (const batch of request.batches) {
      const { times } = await runOnce(request.prompts.slice(0, batch), request.newTokens, false);
      if (rep >= request.warmup) runs.push({ batch, ...times });
    }
  }
  return { ...info, runs };
}

/** The request the driver passed as the one argument. */
export function requestFromArgv(): EngineRequest {
  const arg = process.argv[2];
  if (!arg) throw new Error(`usage: ${process.argv[1]} '<request JSON>' (run by tools/bench/generate.ts)`);
  return JSON.parse(arg) as EngineRequest;
}

/** The result as the last line of stdout, where the driver reads it. */
export function writeResult(result: EngineResult): void {
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
