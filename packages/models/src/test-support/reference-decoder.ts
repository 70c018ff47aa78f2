/**
 * Independent float64 implementations of the decoders, for tests: plain loops over
 * Float64Arrays, written from the transformers modeling code's definitions, using none of the
 * tensor package's ops. Weights are given by Hugging Face name, as stored in the checkpoint
 * (GPT-2's Conv1D weights (in, out)).
 */
export type RefWeights = ReadonlyMap<string, Float64Array>;

export interface RefInput {
  /** Token ids, (B, T). */
  ids: number[][];
  /** Positions, (B, T). @default 0 .. T-1 */
  positions?: number[][];
  /** Segment ids, (B, T): attention only within a segment. @default one segment */
  segments?: number[][];
}

export interface RefLlamaConfig {
  vocab: number;
  hidden: number;
  intermediate: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  eps: number;
  theta: number;
  tied: boolean;
  qkvBias: boolean;
  oBias: boolean;
  mlpBias: boolean;
  qkNorm: boolean;
  /** Sliding window per layer (null: full). */
  windows: (number | null)[];
}

export interface RefGpt2Config {
  vocab: number;
  hidden: number;
  inner: number;
  layers: number;
  heads: number;
  eps: number;
  tied: boolean;
  scaleByLayer: boolean;
}

function w(weights: RefWeights, name: string): Float64Array {
  const t = weights.get(name);
  if (!t) throw new Error(`reference: no weight ${name}`);
  return t;
}

/** y (out) = W x + b with W (out, in) row-major. */
function linearOutIn(x: Float64Array, weight: Float64Array, bias: Float64Array | null, out: number): Float64Array {
  const inp = x.length;
  const y = new Float64Array(out);
  for (let o = 0; o < out; o++) {
    let s = bias ? bias[o]! : 0;
    for (let i = 0; i < inp; i++) s += weight[o * inp + i]! * x[i]!;
    y[o] = s;
  }
  return y;
}

/** y (out) = x W + b with W (in, out) row-major: GPT-2's Conv1D. */
function conv1d(x: Float64Array, weight: Float64Array, bias: Float64Array, out: number): Float64Array {
  const y = Float64Array.from(bias);
  for (let i = 0; i < x.length; i++) for (let o = 0; o < out; o++) y[o]! += x[i]! * weight[i * out + o]!;
  return y;
}

function rmsNorm(x: Float64Array, weight: Float64Array, eps: number): Float64Array {
  let ms = 0;
  for (const v of x) ms += v * v;
  const r = 1 / Math.sqrt(ms / x.length + eps);
  return x.map((v, i) => v * r * weight[i]!);
}

function layerNorm(x: Float64Array, weight: Float64Array, bias: Float64Array, eps: number): Float64Array {
  let mean = 0;
  for (const v of x) mean += v;
  mean /= x.length;
  let variance = 0;
  for (const v of x) variance += (v - mean) ** 2;
  variance /= x.length;
  const r = 1 / Math.sqrt(variance + eps);
  return x.map((v, i) => (v - mean) * r * weight[i]! + bias[i]!);
}

const silu = (v: number) => v / (1 + Math.exp(-v));
const geluTanh = (v: number) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));

/** rotate_half RoPE of one head vector (D) at position pos. */
function rope(x: Float64Array, pos: number, theta: number): Float64Array {
  const D = x.length;
  const half = D / 2;
  const out = new Float64Array(D);
  for (let i = 0; i < half; i++) {
    const angle = pos / theta ** ((2 * i) / D);
    const c = Math.cos(angle);
    const s = Math.sin(angle);
    out[i] = x[i]! * c - x[i + half]! * s;
    out[i + half] = x[i + half]! * c + x[i]! * s;
  }
  return out;
}

/**
 * Causal attention of one sequence. q[t][h], k[s][g], v[s][g] are head vectors; query head h
 * reads kv head floor(h / (Hq / Hkv)). Key s is visible to query t when s <= t, same segment,
 * and t - s < window.
 */
type Heads = Float64Array<ArrayBufferLike>[][];

function attend(q: Heads, k: Heads, v: Heads, scale: number, segments: number[], window: number | null): Heads {
  const Hq = q[0]!.length;
  const Hkv = k[0]!.length;
  const group = Hq / Hkv;
  return q.map((heads, t) =>
    heads.map((qh, h) => {
      const g = Math.floor(h / group);
      const visible: number[] = [];
      for (let s = 0; s <= t; s++) if (segments[s] === segments[t] && (window === null || t - s < window)) visible.push(s);
      const scores = visible.map((s) => scale * qh.reduce((acc, x, d) => acc + x * k[s]![g]![d]!, 0));
      const max = Math.max(...scores);
      const e = scores.map((x) => Math.exp(x - max));
      const z = e.reduce((a, b) => a + b, 0);
      const out = new Float64Array(qh.length);
      visible.forEach((s, j) => {
        for (let d = 0; d < out.length; d++) out[d]! += (e[j]! / z) * v[s]![g]![d]!;
      });
      return out;
    }),
  );
}

const heads = (x: Float64Array, n: number, D: number) => Array.from({ length: n }, (_, h) => x.slice(h * D, (h + 1) * D));
const concat = (parts: Float64Array[]) => {
  const out = new Float64Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
};
const add = (a: Float64Array, b: Float64Array) => a.map((v, i) => v + b[i]!);

/** Logits (B * T * V, row-major) of a Llama-family model. */
export function referenceLlamaLogits(cfg: RefLlamaConfig, weights: RefWeights, input: RefInput): Float64Array {
  const { hidden: C, heads: Hq, kvHeads: Hkv, headDim: D, vocab: V } = cfg;
  const B = input.ids.length;
  const T = input.ids[0]!.length;
  const out = new Float64Array(B * T * V);
  const embed = w(weights, 'model.embed_tokens.weight');
  const bias = (name: string, on: boolean) => (on ? w(weights, name) : null);
  for (let b = 0; b < B; b++) {
    const positions = input.positions?.[b] ?? Array.from({ length: T }, (_, t) => t);
    const segments = input.segments?.[b] ?? Array(T).fill(0);
    let x = input.ids[b]!.map((id) => embed.slice(id * C, (id + 1) * C));
    for (let l = 0; l < cfg.layers; l++) {
      const p = `model.layers.${l}`;
      const h = x.map((xt) => rmsNorm(xt, w(weights, `${p}.input_layernorm.weight`), cfg.eps));
      const proj = (name: string, n: number) =>
        h.map((ht) => heads(linearOutIn(ht, w(weights, `${p}.self_attn.${name}.weight`), bias(`${p}.self_attn.${name}.bias`, cfg.qkvBias), n * D), n, D));
      let q: Heads = proj('q_proj', Hq);
      let k: Heads = proj('k_proj', Hkv);
      const v = proj('v_proj', Hkv);
      if (cfg.qkNorm) {
        q = q.map((qt) => qt.map((qh) => rmsNorm(qh, w(weights, `${p}.self_attn.q_norm.weight`), cfg.eps)));
        k = k.map((kt) => kt.map((kh) => rmsNorm(kh, w(weights, `${p}.self_attn.k_norm.weight`), cfg.eps)));
      }
      q = q.map((qt, t) => qt.map((qh) => rope(qh, positions[t]!, cfg.theta)));
      k = k.map((kt, t) => kt.map((kh) => rope(kh, positions[t]!, cfg.theta)));
      const attn = attend(q, k, v, D ** -0.5, segments, cfg.windows[l] ?? null);
      x = x.map((xt, t) => add(xt, linearOutIn(concat(attn[t]!), w(weights, `${p}.self_attn.o_proj.weight`), bias(`${p}.self_attn.o_proj.bias`, cfg.oBias), C)));
      x = x.map((xt) => {
        const hn = rmsNorm(xt, w(weights, `${p}.post_attention_layernorm.weight`), cfg.eps);
        const mlp = (name: string, n: number, input: Float64Array) =>
          linearOutIn(input, w(weights, `${p}.mlp.${name}.weight`), bias(`${p}.mlp.${name}.bias`, cfg.mlpBias), n);
        const gate = mlp('gate_proj', cfg.intermediate, hn);
        const up = mlp('up_proj', cfg.intermediate, hn);
        return add(xt, mlp('down_proj', C, gate.map((g, i) => silu(g) * up[i]!)));
      });
    }
    const head = cfg.tied ? embed : w(weights, 'lm_head.weight');
    x.forEach((xt, t) => out.set(linearOutIn(rmsNorm(xt, w(weights, 'model.norm.weight'), cfg.eps), head, null, V), (b * T + t) * V));
  }
  return out;
}

/** Logits (B * T * V, row-major) of a GPT-2 model. */
export function referenceGpt2Logits(cfg: RefGpt2Config, weights: RefWeights, input: RefInput): Float64Array {
  const { hidden: C, heads: H, vocab: V } = cfg;
  const D = C / H;
  const B = input.ids.length;
  const T = input.ids[0]!.length;
  const out = new Float64Array(B * T * V);
  const wte = w(weights, 'transformer.wte.weight');
  const wpe = w(weights, 'transformer.wpe.weight');
  for (let b = 0; b < B; b++) {
    const positions = input.positions?.[b] ?? Array.from({ length: T }, (_, t) => t);
    const segments = input.segments?.[b] ?? Array(T).fill(0);
    let x = input.ids[b]!.map((id, t) => add(wte.slice(id * C, (id + 1) * C), wpe.slice(positions[t]! * C, (positions[t]! + 1) * C)));
    for (let l = 0; l < cfg.layers; l++) {
      const p = `transformer.h.${l}`;
      const qkv = x.map((xt) => conv1d(layerNorm(xt, w(weights, `${p}.ln_1.weight`), w(weights, `${p}.ln_1.bias`), cfg.eps), w(weights, `${p}.attn.c_attn.weight`), w(weights, `${p}.attn.c_attn.bias`), 3 * C));
      const q = qkv.map((r) => heads(r.slice(0, C), H, D));
      const k = qkv.map((r) => heads(r.slice(C, 2 * C), H, D));
      const v = qkv.map((r) => heads(r.slice(2 * C), H, D));
      const scale = D ** -0.5 / (cfg.scaleByLayer ? l + 1 : 1);
      const attn = attend(q, k, v, scale, segments, null);
      x = x.map((xt, t) => add(xt, conv1d(concat(attn[t]!), w(weights, `${p}.attn.c_proj.weight`), w(weights, `${p}.attn.c_proj.bias`), C)));
      x = x.map((xt) => {
        const hn = layerNorm(xt, w(weights, `${p}.ln_2.weight`), w(weights, `${p}.ln_2.bias`), cfg.eps);
        const fc = conv1d(hn, w(weights, `${p}.mlp.c_fc.weight`), w(weights, `${p}.mlp.c_fc.bias`), cfg.inner).map(geluTanh);
        return add(xt, conv1d(fc, w(weights, `${p}.mlp.c_proj.weight`), w(weights, `${p}.mlp.c_proj.bias`), C));
      });
    }
    const head = cfg.tied ? wte : w(weights, 'lm_head.weight');
    x.forEach((xt, t) =>
      out.set(linearOutIn(layerNorm(xt, w(weights, 'transformer.ln_f.weight'), w(weights, 'transformer.ln_f.bias'), cfg.eps), head, null, V), (b * T + t) * V),
    );
  }
  return out;
}
