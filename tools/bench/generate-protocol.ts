/**
 * What `npm run bench:generate` sends to each engine process and reads back. Every engine
 * (ours, onnxruntime-node, PyTorch in generate_torch.py) gets the same request as one JSON
 * argument and prints one JSON line with the same fields, so the driver treats them alike.
 */

export interface EngineRequest {
  /** Hugging Face folder with config.json, model.safetensors and model.onnx. */
  folder: string;
  /**
   * Folder with the tokenizer.json our generator loads (the Llama-2 one: 32000 tokens, as the
   * configs). The prompts are token ids; the tokenizer only turns generated ids into text.
   */
  tokenizer: string;
  /** Weights' dtype: 'f32', or 'bf16' for ours (bfloat16 weights and activations). */
  dtype: 'f32' | 'bf16';
  threads: number;
  /** Token ids of every prompt, all of the same length; a run of batch B takes the first B. */
  prompts: number[][];
  /** 'parity': one greedy run at the largest batch, returning tokens and logits; 'time': the timed runs. */
  mode: 'parity' | 'time';
  batches: number[];
  /** Tokens generated per sequence, the first one from the prompt's forward pass. */
  newTokens: number;
  warmup: number;
  reps: number;
}

/** Times of one timed generation, in milliseconds. */
export interface RunTimes {
  batch: number;
  /** The prompt's forward pass, until its logits are on the host. */
  prefillMs: number;
  /** Prompt submitted to first token id on the host (prefill + the first greedy pick). */
  ttftMs: number;
  /** The newTokens - 1 decoding steps after the first token, each a forward pass of B tokens and a pick. */
  decodeMs: number;
}

export interface ParityResult {
  /** Greedy tokens of each sequence (batch = the largest one). */
  tokens: number[][];
  /** Logits of sequence 0 after the prompt and after the last decoding step. */
  firstLogits: number[];
  lastLogits: number[];
}

export interface EngineResult {
  engine: string;
  /** Library and version, e.g. 'onnxruntime-node 1.30.0'. */
  version: string;
  threads: number;
  runs?: RunTimes[];
  parity?: ParityResult;
}
