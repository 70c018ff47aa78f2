/**
 * The models and batches of `npm run bench:train` and `bench:peft`, written once under .bench/ so all sides
 * read the same bytes: a Llama config of about 23M parameters (d=384, 6 layers, 6 heads,
 * ff 1024, vocab 32000, tied embeddings) with transformers' initialisation, as a Hugging Face
 * folder, and a (B, T) batch of token ids as raw little-endian int32.
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Generator, ones, randn, type Tensor } from '@lmflow/tensor';
import { saveSafetensors } from '@lmflow/models';

export const TRAIN_BENCH_CONFIG = {
  architectures: ['LlamaForCausalLM'],
  model_type: 'llama',
  hidden_size: 384,
  intermediate_size: 1024,
  num_hidden_layers: 6,
  num_attention_heads: 6,
  num_key_value_heads: 6,
  vocab_size: 32000,
  max_position_embeddings: 1024,
  rms_norm_eps: 1e-5,
  rope_theta: 10000,
  hidden_act: 'silu',
  tie_word_embeddings: true,
  bos_token_id: 1,
  eos_token_id: 2,
  torch_dtype: 'float32',
};

/** ~110M parameters (d=768, 12 layers, 12 heads, ff 2048, vocab 32000): bench:peft's model. */
export const PEFT_BENCH_CONFIG = { ...TRAIN_BENCH_CONFIG, hidden_size: 768, intermediate_size: 2048, num_hidden_layers: 12, num_attention_heads: 12, num_key_value_heads: 12 };

/** Writes the model folder and ids.bin under `dir` unless they are there; returns the parameter count. */
export async function ensureTrainBenchFiles(dir: string, batch: number, seq: number, c: typeof TRAIN_BENCH_CONFIG = TRAIN_BENCH_CONFIG): Promise<number> {
  const generator = new Generator(1234);
  const matrix = (rows: number, cols: number) => randn([rows, cols], { std: 0.02, generator, device: 'cpu' });
  const vector = (n: number) => ones([n], { device: 'cpu' });
  const shapes: [string, () => Tensor][] = [['model.embed_tokens.weight', () => matrix(c.vocab_size, c.hidden_size)]];
  for (let l = 0; l < c.num_hidden_layers; l++) {
    const p = `model.layers.${l}.`;
    shapes.push(
      [`${p}input_layernorm.weight`, () => vector(c.hidden_size)],
      [`${p}self_attn.q_proj.weight`, () => matrix(c.hidden_size, c.hidden_size)],
      [`${p}self_attn.k_proj.weight`, () => matrix(c.hidden_size, c.hidden_size)],
      [`${p}self_attn.v_proj.weight`, () => matrix(c.hidden_size, c.hidden_size)],
      [`${p}self_attn.o_proj.weight`, () => matrix(c.hidden_size, c.hidden_size)],
      [`${p}post_attention_layernorm.weight`, () => vector(c.hidden_size)],
      [`${p}mlp.gate_proj.weight`, () => matrix(c.intermediate_size, c.hidden_size)],
      [`${p}mlp.up_proj.weight`, () => matrix(c.intermediate_size, c.hidden_size)],
      [`${p}mlp.down_proj.weight`, () => matrix(c.hidden_size, c.intermediate_size)],
    );
  }
  shapes.push(['model.norm.weight', () => vector(c.hidden_size)]);
  if (!c.tie_word_embeddings) shapes.push(['lm_head.weight', () => matrix(c.vocab_size, c.hidden_size)]);
  const idsFile = path.join(dir, `ids-${batch}x${seq}.bin`);
  if (!existsSync(path.join(dir, 'model.safetensors'))) {
    await mkdir(dir, { recursive: true });
    const tensors = new Map(shapes.map(([name, make]) => [name, make()] as const));
    await writeFile(path.join(dir, 'config.json'), `${JSON.stringify(c, null, 2)}\n`);
    await saveSafetensors(path.join(dir, 'model.safetensors'), tensors, { metadata: { format: 'pt' } });
    tensors.forEach((t) => t.dispose());
  }
  if (!existsSync(idsFile)) {
    // Uniform ids in [3, vocab) from a seeded xorshift32: any fixed batch serves a speed test.
    const ids = new Int32Array(batch * seq);
    let state = 2463534242;
    for (let i = 0; i < ids.length; i++) {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      ids[i] = 3 + ((state >>> 0) % (c.vocab_size - 3));
    }
    await writeFile(idsFile, Buffer.from(ids.buffer));
  }
  const h = c.hidden_size;
  return (c.tie_word_embeddings ? 1 : 2) * c.vocab_size * h + c.num_hidden_layers * (4 * h * h + 3 * h * c.intermediate_size + 2 * h) + h;
}
