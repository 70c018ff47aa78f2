/**
 * A tiny Llama (RMSNorm, rotate_half RoPE, grouped-query attention, SwiGLU) written with the
 * tensor package's public ops, for tests and benchmarks of the tensor package itself. The
 * real model code lives in @lmflow/models; this one exists so the tensor package can prove a
 * whole block trains, on every backend, without depending on it.
 */
import {
  Generator,
  add,
  checkpoint,
  crossEntropy,
  embedding,
  linear,
  mul,
  ones,
  randn,
  rmsNorm,
  rope,
  ropeInvFreq,
  scaledDotProductAttention,
  silu,
  type DType,
  type Tensor,
} from '@lmflow/tensor';

export interface TinyLlamaConfig {
  vocabSize: number;
  hidden: number;
  heads: number;
  kvHeads: number;
  intermediate: number;
  layers: number;
  rmsNormEps: number;
  ropeTheta: number;
}

export interface LlamaLayerParams {
  attnNorm: Tensor;
  wq: Tensor;
  wk: Tensor;
  wv: Tensor;
  wo: Tensor;
  mlpNorm: Tensor;
  wGate: Tensor;
  wUp: Tensor;
  wDown: Tensor;
}

export interface TinyLlamaParams {
  embed: Tensor;
  layers: LlamaLayerParams[];
  finalNorm: Tensor;
  lmHead: Tensor;
}

/** Weights drawn from N(0, 0.02) (norms at 1), as Hugging Face initialises Llama; all trainable. */
export function initTinyLlama(config: TinyLlamaConfig, options: { device?: string; dtype?: DType; seed?: number } = {}): TinyLlamaParams {
  const { device = 'reference', dtype = 'f32', seed = 0 } = options;
  const generator = new Generator(seed);
  const headDim = config.hidden / config.heads;
  const w = (rows: number, cols: number) => randn([rows, cols], { device, dtype, generator, std: 0.02, requiresGrad: true });
  const norm = () => ones([config.hidden], { device, dtype, requiresGrad: true });
  return {
    embed: w(config.vocabSize, config.hidden),
    layers: Array.from({ length: config.layers }, () => ({
      attnNorm: norm(),
      wq: w(config.heads * headDim, config.hidden),
      wk: w(config.kvHeads * headDim, config.hidden),
      wv: w(config.kvHeads * headDim, config.hidden),
      wo: w(config.hidden, config.heads * headDim),
      mlpNorm: norm(),
      wGate: w(config.intermediate, config.hidden),
      wUp: w(config.intermediate, config.hidden),
      wDown: w(config.hidden, config.intermediate),
    })),
    finalNorm: norm(),
    lmHead: w(config.vocabSize, config.hidden),
  };
}

export function parameterList(params: TinyLlamaParams): Tensor[] {
  return [params.embed, ...params.layers.flatMap((l) => Object.values(l)), params.finalNorm, params.lmHead];
}

/**
 * One decoder layer.
 * x: (B, T, C)  B batch, T time, C hidden; positions: (B, T) i32; invFreq: (D/2) f32.
 */
export function llamaBlock(x: Tensor, p: LlamaLayerParams, positions: Tensor, invFreq: Tensor, config: TinyLlamaConfig): Tensor {
  const [B, T] = x.shape as [number, number, number];
  const headDim = config.hidden / config.heads;
  const h = rmsNorm(x, p.attnNorm, config.rmsNormEps);
  // q: (B, T, Hq, D); k, v: (B, T, Hkv, D)
  const q = rope(linear(h, p.wq).reshape(B, T, config.heads, headDim), positions, invFreq);
  const k = rope(linear(h, p.wk).reshape(B, T, config.kvHeads, headDim), positions, invFreq);
  const v = linear(h, p.wv).reshape(B, T, config.kvHeads, headDim);
  const attn = scaledDotProductAttention(q, k, v, { causal: true }).reshape(B, T, config.heads * headDim);
  const x1 = add(x, linear(attn, p.wo));
  const h2 = rmsNorm(x1, p.mlpNorm, config.rmsNormEps);
  const mlp = linear(mul(silu(linear(h2, p.wGate)), linear(h2, p.wUp)), p.wDown);
  return add(x1, mlp);
}

/**
 * Logits (B, T, V) of ids (B, T) at positions (B, T) (i32).
 * With `checkpointLayers`, each layer is recomputed in backward instead of kept.
 */
export function tinyLlamaLogits(params: TinyLlamaParams, ids: Tensor, positions: Tensor, config: TinyLlamaConfig, options: { checkpointLayers?: boolean } = {}): Tensor {
  const invFreq = ropeInvFreq(config.hidden / config.heads, config.ropeTheta, { device: ids.device });
  let x = embedding(params.embed, ids);
  for (const layer of params.layers) {
    // Tensors a checkpointed segment uses, other than parameters, are passed as inputs so they
    // are kept for the recompute (a tidy around this call may dispose invFreq before backward).
    const block = (input: Tensor, pos: Tensor, inv: Tensor) => llamaBlock(input, layer, pos, inv, config);
    x = options.checkpointLayers ? checkpoint(block, x, positions, invFreq) : block(x, positions, invFreq);
  }
  const logits = linear(rmsNorm(x, params.finalNorm, config.rmsNormEps), params.lmHead);
  invFreq.dispose();
  return logits;
}

/** Mean next-token cross-entropy of ids (B, T) against targets (B, T) (-100 ignored). */
export function tinyLlamaLoss(params: TinyLlamaParams, ids: Tensor, targets: Tensor, positions: Tensor, config: TinyLlamaConfig, options: { checkpointLayers?: boolean } = {}): Tensor {
  const logits = tinyLlamaLogits(params, ids, positions, config, options);
  const loss = crossEntropy(logits, targets);
  logits.dispose();
  return loss;
}
