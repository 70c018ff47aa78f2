import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, defineOptions, resolveConfig } from '../index.js';
import { allGroups } from './test-options.js';

let cwd: string;
const required = ['--model_name_or_path', 'm'];
const resolve = (argv: string[], values?: Record<string, unknown>) => resolveConfig(allGroups, { argv, cwd, ...(values ? { values } : {}) });
const errorOf = (fn: () => unknown): ConfigError => {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError');
};
const messageOf = (fn: () => unknown) => errorOf(fn).message;

beforeAll(() => {
  cwd = mkdtempSync(path.join(tmpdir(), 'lmflow-config-'));
  mkdirSync(path.join(cwd, 'data'));
  writeFileSync(path.join(cwd, 'data', 'train.json'), '{"type": "text_only", "instances": []}');
});
afterAll(() => rmSync(cwd, { recursive: true, force: true }));

describe('resolveConfig: defaults and types', () => {
  it('fills defaults, leaves options without one undefined, resolves default paths against cwd', () => {
    const config = resolve(required);
    expect(config).toEqual({
      model_name_or_path: 'm',
      use_lora: false,
      lora_r: 8,
      lora_target_modules: ['q_proj', 'v_proj'],
      trust_remote_code: undefined,
      torch_dtype: 'auto',
      dataset_path: undefined,
      block_size: undefined,
      conversation_template: undefined,
      output_dir: path.join(cwd, 'output_models/finetune'),
      learning_rate: 2e-5,
      num_train_epochs: 3,
      lr_scheduler_type: 'linear',
      warmup_ratio: undefined,
      loss_weights: undefined,
      eval_steps: undefined,
    });
  });

  it('parses every type from --key value and --key=value', () => {
    const config = resolve([
      '--model_name_or_path=meta-llama/Llama-2-7b-hf',
      '--lora_r', '16',
      '--torch_dtype=bfloat16',
      '--dataset_path', 'data/train.json',
      '--block_size=1024',
      '--conversation_template', 'llama2',
      '--learning_rate', '1e-4',
      '--num_train_epochs=0.5',
      '--warmup_ratio', '.03',
      '--output_dir', '/abs/out',
    ]);
    expect(config.model_name_or_path).toBe('meta-llama/Llama-2-7b-hf');
    expect(config.lora_r).toBe(16);
    expect(config.torch_dtype).toBe('bfloat16');
    expect(config.dataset_path).toBe(path.join(cwd, 'data/train.json'));
    expect(config.block_size).toBe(1024);
    expect(config.conversation_template).toBe('llama2');
    expect(config.learning_rate).toBe(1e-4);
    expect(config.num_train_epochs).toBe(0.5);
    expect(config.warmup_ratio).toBe(0.03);
    expect(config.output_dir).toBe('/abs/out');
  });

  it('reads booleans as --flag, --flag <word> (true/false/True/False/1/0/yes/no) and --no_flag', () => {
    expect(resolve([...required, '--use_lora']).use_lora).toBe(true);
    for (const [word, value] of [['true', true], ['True', true], ['1', true], ['yes', true], ['false', false], ['False', false], ['0', false], ['no', false]] as const) {
      expect(resolve([...required, '--use_lora', word]).use_lora).toBe(value);
      expect(resolve([...required, `--trust_remote_code=${word}`]).trust_remote_code).toBe(value);
    }
    expect(resolve([...required, '--no_use_lora']).use_lora).toBe(false);
    // A bare boolean flag followed by another flag takes no value.
    expect(resolve(['--use_lora', ...required]).use_lora).toBe(true);
  });

  it('reads lists as several words, comma-separated, or both', () => {
    expect(resolve([...required, '--lora_target_modules', 'q_proj', 'k_proj', 'v_proj']).lora_target_modules).toEqual(['q_proj', 'k_proj', 'v_proj']);
    expect(resolve([...required, '--lora_target_modules=q_proj,o_proj']).lora_target_modules).toEqual(['q_proj', 'o_proj']);
    expect(resolve([...required, '--lora_target_modules', 'q_proj,k_proj', 'v_proj']).lora_target_modules).toEqual(['q_proj', 'k_proj', 'v_proj']);
    expect(resolve([...required, '--loss_weights', '0.5', '1', '2e-1']).loss_weights).toEqual([0.5, 1, 0.2]);
    expect(resolve([...required, '--eval_steps', '10,20', '30']).eval_steps).toEqual([10, 20, 30]);
  });

  it('accepts --key-name for --key_name and declared aliases', () => {
    const config = resolve(['--model-name-or-path', 'm', '--lr', '3e-4', '--lora-target-modules', 'q_proj']);
    expect(config.learning_rate).toBe(3e-4);
    expect(config.lora_target_modules).toEqual(['q_proj']);
  });

  it('takes negative numbers as values, not flags', () => {
    expect(messageOf(() => resolve([...required, '--num_train_epochs', '-1']))).toBe('--num_train_epochs: expected a number >= 0, got -1');
  });

  it('takes code-given values below the config file and flags', () => {
    const config = resolve(['--lora_r', '4'], { model_name_or_path: 'from-code', lora_r: 2, use_lora: true });
    expect(config.model_name_or_path).toBe('from-code');
    expect(config.use_lora).toBe(true);
    expect(config.lora_r).toBe(4);
  });
});

describe('resolveConfig: --config files', () => {
  const write = (name: string, text: string) => {
    const file = path.join(cwd, name);
    writeFileSync(file, text);
    return file;
  };

  it('reads YAML with the same keys; flags override the file; paths are relative to the working directory', () => {
    write(
      'train.yaml',
      [
        'model_name_or_path: from-yaml',
        'dataset_path: data/train.json',
        'learning_rate: 1e-5',
        'use_lora: true',
        'lora_target_modules: [q_proj, v_proj, o_proj]',
        'eval_steps: "5,10"',
        'block_size: "256"',
        'warmup_ratio: null',
        'lr_scheduler_type: cosine',
      ].join('\n'),
    );
    const config = resolve(['--config', 'train.yaml', '--lr', '5e-5', '--no_use_lora']);
    expect(config.model_name_or_path).toBe('from-yaml');
    expect(config.dataset_path).toBe(path.join(cwd, 'data/train.json'));
    expect(config.learning_rate).toBe(5e-5);
    expect(config.use_lora).toBe(false);
    expect(config.lora_target_modules).toEqual(['q_proj', 'v_proj', 'o_proj']);
    expect(config.eval_steps).toEqual([5, 10]);
    expect(config.block_size).toBe(256);
    expect(config.warmup_ratio).toBeUndefined();
    expect(config.lr_scheduler_type).toBe('cosine');
  });

  it('reads JSON (LMFlow-style argument files), .yml, and an empty YAML file', () => {
    write('args.json', JSON.stringify({ model_name_or_path: 'from-json', num_train_epochs: 1, use_lora: 1, 'lora-r': 32 }));
    const config = resolve(['--config=args.json']);
    expect([config.model_name_or_path, config.num_train_epochs, config.use_lora, config.lora_r]).toEqual(['from-json', 1, true, 32]);
    write('short.yml', 'model_name_or_path: yml\n');
    expect(resolve(['--config', 'short.yml']).model_name_or_path).toBe('yml');
    write('empty.yaml', '');
    expect(resolve(['--config', 'empty.yaml', ...required]).lora_r).toBe(8);
  });

  it('names the file, key, value and expected type for bad values', () => {
    const file = write('bad.yaml', 'model_name_or_path: 7\n');
    expect(messageOf(() => resolve(['--config', 'bad.yaml']))).toBe(`config file ${file}: key "model_name_or_path": expected a string, got 7 (a number)`);
    write('bad2.yaml', 'model_name_or_path: m\nlora_r: 2.5\n');
    const error = errorOf(() => resolve(['--config', 'bad2.yaml']));
    expect(error.message).toBe(`config file ${path.join(cwd, 'bad2.yaml')}: key "lora_r": expected an integer >= 1, got 2.5 (a number)`);
    expect([error.option, error.file]).toEqual(['lora_r', path.join(cwd, 'bad2.yaml')]);
    write('bad3.yaml', 'model_name_or_path: m\nlora_target_modules: {q: 1}\n');
    expect(messageOf(() => resolve(['--config', 'bad3.yaml']))).toBe(
      `config file ${path.join(cwd, 'bad3.yaml')}: key "lora_target_modules": expected one or more strings, got {"q":1} (a mapping)`,
    );
    write('bad4.yaml', 'model_name_or_path: m\nuse_lora: maybe\n');
    expect(messageOf(() => resolve(['--config', 'bad4.yaml']))).toBe(
      `config file ${path.join(cwd, 'bad4.yaml')}: key "use_lora": expected true or false (or 1/0, yes/no), got "maybe"`,
    );
  });

  it('rejects an unknown key with the closest valid one and the list of valid keys', () => {
    const file = write('typo.yaml', 'model_name_or_path: m\nlerning_rate: 1e-5\n');
    expect(messageOf(() => resolve(['--config', 'typo.yaml']))).toBe(
      `config file ${file}: unknown key "lerning_rate"; did you mean "learning_rate"? Valid keys: block_size, conversation_template, dataset_path, eval_steps, learning_rate, lora_r, lora_target_modules, loss_weights, lr_scheduler_type, model_name_or_path, num_train_epochs, output_dir, torch_dtype, trust_remote_code, use_lora, warmup_ratio`,
    );
    write('far.yaml', 'zzz: 1\n');
    expect(messageOf(() => resolve(['--config', 'far.yaml']))).toMatch(/unknown key "zzz"; valid keys: block_size, /);
  });

  it('rejects files it cannot use, each with the file named', () => {
    const missing = path.join(cwd, 'nope.yaml');
    expect(messageOf(() => resolve(['--config', 'nope.yaml']))).toBe(`config file ${missing}: cannot read it: no such file`);
    expect(messageOf(() => resolve(['--config', 'data']))).toBe(`config file ${path.join(cwd, 'data')}: expected a .yaml, .yml or .json file, got "data"`);
    mkdirSync(path.join(cwd, 'dir.yaml'));
    expect(messageOf(() => resolve(['--config', 'dir.yaml']))).toBe(`config file ${path.join(cwd, 'dir.yaml')}: cannot read it: it is a folder`);
    write('dup.yaml', 'lora_r: 1\nlora_r: 2\n');
    expect(messageOf(() => resolve(['--config', 'dup.yaml']))).toBe(`config file ${path.join(cwd, 'dup.yaml')}: invalid YAML: Map keys must be unique at line 2, column 1`);
    write('broken.json', '{"lora_r": 1,}');
    expect(messageOf(() => resolve(['--config', 'broken.json']))).toMatch(new RegExp(`^config file ${path.join(cwd, 'broken.json')}: invalid JSON: .*position 13`));
    write('list.yaml', '- lora_r: 1\n');
    expect(messageOf(() => resolve(['--config', 'list.yaml']))).toBe(`config file ${path.join(cwd, 'list.yaml')}: expected a mapping of option names to values at the top level, got a list`);
    write('nested.yaml', 'config: other.yaml\n');
    expect(messageOf(() => resolve(['--config', 'nested.yaml']))).toBe(`config file ${path.join(cwd, 'nested.yaml')}: key "config": a config file cannot name another config file`);
    write('alias.yaml', 'lr: 1\nlearning_rate: 2\n');
    expect(messageOf(() => resolve(['--config', 'alias.yaml']))).toBe(`config file ${path.join(cwd, 'alias.yaml')}: keys "lr" and "learning_rate" both set learning_rate; keep one`);
    expect(messageOf(() => resolve(['--config']))).toBe('--config: expected a .yaml, .yml or .json file, got no value');
    expect(messageOf(() => resolve(['--config', 'a.yaml', '--config', 'b.yaml']))).toBe('--config is given twice ("a.yaml" and "b.yaml"); give one config file');
  });
});

describe('resolveConfig: flag errors', () => {
  const cases: [string[], string][] = [
    [[...required, '--lerning_rate', '1'], 'unknown option --lerning_rate; did you mean --learning_rate? Valid options: --config, --help, --block_size, --conversation_template, --dataset_path, --eval_steps, --learning_rate, --lora_r, --lora_target_modules, --loss_weights, --lr_scheduler_type, --model_name_or_path, --num_train_epochs, --output_dir, --torch_dtype, --trust_remote_code, --use_lora, --warmup_ratio'],
    [[...required, '--learning'], 'unknown option --learning; did you mean --learning_rate? Valid options: --config, --help, --block_size, --conversation_template, --dataset_path, --eval_steps, --learning_rate, --lora_r, --lora_target_modules, --loss_weights, --lr_scheduler_type, --model_name_or_path, --num_train_epochs, --output_dir, --torch_dtype, --trust_remote_code, --use_lora, --warmup_ratio'],
    [['--no_lora_r'], 'unknown option --no_lora_r; did you mean --lora_r? Valid options: --config, --help, --block_size, --conversation_template, --dataset_path, --eval_steps, --learning_rate, --lora_r, --lora_target_modules, --loss_weights, --lr_scheduler_type, --model_name_or_path, --num_train_epochs, --output_dir, --torch_dtype, --trust_remote_code, --use_lora, --warmup_ratio'],
    [['-x'], 'unknown option -x: options are long flags such as --model_name_or_path (only -h is short)'],
    [['train.yaml'], 'unexpected argument "train.yaml"; to read options from a file, use --config train.yaml'],
    [['stray'], 'unexpected argument "stray"; options are given as --name value'],
    [['--lora_r', '8', '16'], 'unexpected argument "16" after --lora_r 8 (--lora_r takes one value)'],
    [['--lora_r', '8', '--lora_r=16'], 'lora_r is given twice (--lora_r 8 and --lora_r 16); give it once'],
    [['--lr', '1', '--learning_rate', '2'], 'learning_rate is given twice (--lr 1 and --learning_rate 2); give it once'],
    [[...required, '--lora_r', 'eight'], '--lora_r: expected an integer >= 1, got "eight"'],
    [[...required, '--lora_r', '1.5'], '--lora_r: expected an integer >= 1, got "1.5"'],
    [[...required, '--lora_r', '0'], '--lora_r: expected an integer >= 1, got 0'],
    [[...required, '--lora_r'], '--lora_r: expected an integer >= 1, got no value'],
    [[...required, '--lora_r', '--use_lora'], '--lora_r: expected an integer >= 1, got no value'],
    [[...required, '--learning_rate', '0'], '--learning_rate: expected a number > 0, got 0'],
    [[...required, '--learning_rate', 'fast'], '--learning_rate: expected a number > 0, got "fast"'],
    [[...required, '--warmup_ratio', '1.5'], '--warmup_ratio: expected a number >= 0 and <= 1, got 1.5'],
    [[...required, '--use_lora', 'maybe'], '--use_lora: expected true or false (or 1/0, yes/no), got "maybe"'],
    [[...required, '--no_use_lora=true'], '--no_use_lora takes no value (it sets use_lora to false), got "true"'],
    [[...required, '--lr_scheduler_type', 'cosin'], '--lr_scheduler_type: expected one of linear, cosine, constant, got "cosin"; did you mean "cosine"?'],
    [[...required, '--torch_dtype', 'int8'], '--torch_dtype: expected one of auto, float32, bfloat16, float16, got "int8"'],
    [[...required, '--block_size', '100'], '--block_size: expected a power of two, got 100'],
    [[...required, '--loss_weights', '1', '-2'], '--loss_weights: expected one or more numbers >= 0, got [1,-2]'],
    [[...required, '--eval_steps', '1,,2'], '--eval_steps: expected one or more integers, got "1,,2" (an empty item)'],
    [[...required, '--lora_target_modules'], '--lora_target_modules: expected one or more strings, got no value'],
    [[...required, '--dataset_path', 'data/missing.json'], `--dataset_path: expected an existing file or folder, got "data/missing.json" (nothing at ${'CWD'}/data/missing.json)`],
    [[...required, '--dataset_path='], '--dataset_path: expected an existing file or folder, got an empty value'],
    [[], 'missing required option --model_name_or_path; set it with --model_name_or_path or in a --config file'],
  ];
  it.each(cases)('%j', (argv, message) => {
    expect(messageOf(() => resolve(argv))).toBe(message.replace('CWD', cwd));
  });

  it('reports every missing required option at once', () => {
    const extra = defineOptions('Extra', { dataset_name: { type: 'string', required: true, description: 'A name.' } });
    expect(messageOf(() => resolveConfig([...allGroups, extra], { argv: ['--lora_r', '2'], cwd }))).toBe(
      'missing required options --model_name_or_path, --dataset_name; set them as flags or in a --config file',
    );
    // null in code-given values (or a file) leaves the option unset.
    expect(messageOf(() => resolve([], { model_name_or_path: null }))).toBe(
      'missing required option --model_name_or_path; set it with --model_name_or_path or in a --config file',
    );
  });

  it('reads no config file when a flag is wrong (flags are checked first)', () => {
    expect(messageOf(() => resolve(['--config', 'does-not-exist.yaml', '--bogus']))).toMatch(/^unknown option --bogus; valid options/);
  });

  it('skips --help and -h (the caller shows help before resolving)', () => {
    expect(resolve([...required, '-h', '--help']).model_name_or_path).toBe('m');
  });
});
