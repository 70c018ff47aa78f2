/**
 * `lmflow generate`: continue a prompt with a model, streaming the text to stdout, or with
 * --json printing the text and the generated token ids.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { createRuntime, defineOptions } from '@lmflow/core';
import { generationFlags, generationOptionsFromFlags, loadGenerator, type Generator } from '@lmflow/inference';
import { loraAdapterOptions, loraFromConfig } from '@lmflow/plugin-lora';
import { defineCommand } from '../command.js';
import { checkDevice } from '../device-option.js';

export const modelFlags = defineOptions('Model', {
  model_name_or_path: {
    type: 'string',
    required: true,
    description: 'A model folder (config.json, *.safetensors, tokenizer.json, generation_config.json) or a Hugging Face model id.',
  },
  torch_dtype: {
    type: 'enum',
    values: ['auto', 'float32', 'bfloat16', 'float16'],
    description: "Parameter dtype; auto keeps the checkpoint's (config.json torch_dtype). Default: float32.",
  },
  device: {
    type: 'string',
    validate: checkDevice,
    description: 'Where the model runs: cpu, reference (float64, slow: for checks) or cuda:N. Default: cpu.',
  },
});

const promptFlags = defineOptions('Prompt', {
  prompt: { type: 'string', description: 'Text to continue. Unset or empty: the model starts from BOS (a base model writes from scratch).' },
  json: {
    type: 'boolean',
    default: false,
    description: 'Print {"text": ..., "token_ids": [...]} (the generated ids only) when done, instead of streaming the text.',
  },
});

/**
 * Loads the model named by the flags. A relative folder is relative to the working directory;
 * anything else is a hub id.
 */
export async function generatorFromFlags(
  config: { model_name_or_path: string; torch_dtype?: string | undefined; device?: string | undefined; lora_model_path?: string | undefined },
  cwd: string,
): Promise<Generator> {
  const local = path.resolve(cwd, config.model_name_or_path);
  // --lora_model_path: a PEFT adapter applied on top of the base model as it loads.
  const lora = loraFromConfig(config);
  return loadGenerator(existsSync(local) ? local : config.model_name_or_path, {
    ...(lora && { runtime: createRuntime({ plugins: [lora] }) }),
    device: config.device ?? 'cpu',
    ...(config.torch_dtype !== undefined && { dtype: config.torch_dtype as 'auto' | 'float32' | 'bfloat16' | 'float16' }),
  });
}

export const generateCommand = defineCommand({
  name: 'generate',
  summary: 'Continue a prompt with a model (greedy or sampled), streaming the text.',
  description:
    'Generates with the KV cache: the prompt is read once, then one token per step, until an end token (generation_config.json eos_token_id), --max_new_tokens or the model\'s context. The text streams to stdout; a summary goes to stderr.',
  examples: [
    'lmflow generate --model_name_or_path models/stories260K --prompt "Once upon a time," --do_sample false',
    'lmflow generate --model_name_or_path Qwen/Qwen3-0.6B --prompt "The capital of France is" --temperature 0.7 --seed 1 --json',
  ],
  options: [modelFlags, loraAdapterOptions, promptFlags, generationFlags],
  async run(config, { io, log }) {
    const generator = await generatorFromFlags(config, io.cwd);
    try {
      const options = generationOptionsFromFlags(config);
      const prompt = config.prompt ?? '';
      const started = performance.now();
      let result;
      if (config.json) {
        result = await generator.generate(prompt, options);
        io.stdout.write(`${JSON.stringify({ text: result.text, token_ids: result.tokenIds })}\n`);
      } else {
        const stream = generator.stream(prompt, options);
        for await (const delta of stream) io.stdout.write(delta.text);
        result = await stream.result;
        io.stdout.write('\n');
      }
      const seconds = (performance.now() - started) / 1000;
      const { promptTokens, completionTokens } = result.usage;
      log(`${promptTokens} prompt tokens, ${completionTokens} generated in ${seconds.toFixed(2)} s (${(completionTokens / seconds).toFixed(1)} tokens/s); finished: ${result.finishReason}`);
    } finally {
      generator.model.dispose();
    }
  },
});
