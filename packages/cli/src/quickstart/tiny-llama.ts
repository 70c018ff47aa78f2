/**
 * A small Llama-architecture model with fresh weights, written as a Hugging Face folder
 * (config.json, model.safetensors, tokenizer files), initialised as transformers initialises
 * Llama: N(0, 0.02) matrices, norm weights 1.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Generator, ones, randn, type Tensor } from '@lmflow/tensor';
import { saveSafetensors } from '@lmflow/models';
import { charTokenizerFiles } from './char-tokenizer.js';

export interface TinyLlamaShape {
  hidden: number;
  layers: number;
  heads: number;
  kvHeads: number;
  intermediate: number;
  maxPositions: number;
}

export async function writeTinyLlama(dir: string, shape: TinyLlamaShape, seed: number): Promise<{ parameters: number }> {
  const { tokenizer, tokenizerConfig, vocabSize } = charTokenizerFiles(shape.maxPositions);
  const config = {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    hidden_size: shape.hidden,
    intermediate_size: shape.intermediate,
    num_hidden_layers: shape.layers,
    num_attention_heads: shape.heads,
    num_key_value_heads: shape.kvHeads,
    vocab_size: vocabSize,
    max_position_embeddings: shape.maxPositions,
    rms_norm_eps: 1e-5,
    rope_theta: 10000,
    hidden_act: 'silu',
    tie_word_embeddings: true,
    bos_token_id: 1,
    eos_token_id: 2,
    pad_token_id: 0,
    torch_dtype: 'float32',
  };
  const generator = new Generator(seed);
  const matrix = (rows: number, cols: number) => randn([rows, cols], { std: 0.02, generator, device: 'cpu' });
  const headDim = shape.hidden / shape.heads;
  const tensors = new Map<string, Tensor>([['model.embed_tokens.weight', matrix(vocabSize, shape.hidden)]]);
  for (let l = 0; l < shape.layers; l++) {
    const p = `model.layers.${l}.`;
    tensors.set(`${p}input_layernorm.weight`, ones([shape.hidden], { device: 'cpu' }));
    tensors.set(`${p}self_attn.q_proj.weight`, matrix(shape.heads * headDim, shape.hidden));
    tensors.set(`${p}self_attn.k_proj.weight`, matrix(shape.kvHeads * headDim, shape.hidden));
    tensors.set(`${p}self_attn.v_proj.weight`, matrix(shape.kvHeads * headDim, shape.hidden));
    tensors.set(`${p}self_attn.o_proj.weight`, matrix(shape.hidden, shape.heads * headDim));
    tensors.set(`${p}post_attention_layernorm.weight`, ones([shape.hidden], { device: 'cpu' }));
    tensors.set(`${p}mlp.gate_proj.weight`, matrix(shape.intermediate, shape.hidden));
    tensors.set(`${p}mlp.up_proj.weight`, matrix(shape.intermediate, shape.hidden));
    tensors.set(`${p}mlp.down_proj.weight`, matrix(shape.hidden, shape.intermediate));
  }
  tensors.set('model.norm.weight', ones([shape.hidden], { device: 'cpu' }));
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
  await writeFile(path.join(dir, 'tokenizer.json'), JSON.stringify(tokenizer));
  await writeFile(path.join(dir, 'tokenizer_config.json'), `${JSON.stringify(tokenizerConfig, null, 2)}\n`);
  await writeFile(path.join(dir, 'generation_config.json'), `${JSON.stringify({ bos_token_id: 1, eos_token_id: 2, pad_token_id: 0, do_sample: false, max_new_tokens: 40 }, null, 2)}\n`);
  await saveSafetensors(path.join(dir, 'model.safetensors'), tensors, { metadata: { format: 'pt' } });
  let parameters = 0;
  for (const t of tensors.values()) {
    parameters += t.size;
    t.dispose();
  }
  return { parameters };
}
