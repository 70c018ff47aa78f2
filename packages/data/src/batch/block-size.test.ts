import { describe, expect, it } from 'vitest';
import { resolveConfig } from '@lmflow/core';
import { loadTokenizer } from '../tokenizer/load-tokenizer.js';
import { resolveBlockSize } from './block-size.js';
import { dataOptions } from '../data-options.js';
import { gpt2Dir, llama2Dir, qwen3Dir, shared } from '../test-fixtures.js';

describe('resolveBlockSize', () => {
  it('defaults to model_max_length up to 1024, and lowers a request above model_max_length', async () => {
    const [llama, gpt2, qwen] = await Promise.all([loadTokenizer(llama2Dir), loadTokenizer(gpt2Dir), loadTokenizer(qwen3Dir)]);
    expect([resolveBlockSize(undefined, llama), resolveBlockSize(undefined, gpt2), resolveBlockSize(undefined, qwen)]).toEqual([1024, 1024, 1024]);
    expect(resolveBlockSize(2048, llama)).toBe(2048);
    const warnings: string[] = [];
    expect(resolveBlockSize(4096, gpt2, (m) => warnings.push(m))).toBe(1024);
    expect(warnings).toEqual(["--block_size 4096 is longer than the tokenizer's model_max_length 1024; using 1024"]);
    expect(() => resolveBlockSize(0, gpt2)).toThrow('--block_size is 0, expected a positive integer');
  });
});

describe('dataOptions', () => {
  it('parses LMFlow\'s data flags and rejects an unknown template name', () => {
    const path = shared('data/alpaca_en_demo.json');
    const config = resolveConfig([dataOptions], { argv: ['--dataset_path', path, '--conversation_template', 'llama3', '--block_size', '512', '--add_eos', 'false'] });
    expect(config).toEqual({ dataset_path: path, conversation_template: 'llama3', block_size: 512, train_on_prompt: false, add_eos: false, packing: false, disable_group_texts: true });
    expect(() => resolveConfig([dataOptions], { argv: ['--dataset_path', path, '--conversation_template', 'vicuna'] })).toThrow(/conversation_template/);
  });
});
