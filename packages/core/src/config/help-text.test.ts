import { describe, expect, it } from 'vitest';
import { defineOptions, formatOptionsHelp } from '../index.js';
import { allGroups } from './test-options.js';

describe('formatOptionsHelp', () => {
  it('lays out a group exactly: flag line with type, then wrapped description, default and bounds', () => {
    const group = defineOptions('LoRA', {
      use_lora: { type: 'boolean', default: false, description: 'Train low-rank adapters instead of all weights.' },
      lora_r: { type: 'integer', default: 8, min: 1, aliases: ['r'], description: 'Rank of the update.' },
      lora_target_modules: {
        type: 'list',
        items: 'string',
        default: ['q_proj', 'v_proj'],
        description: 'Names of the linear modules to wrap; each name matches the last part of a module path, as in PEFT.',
      },
      lora_dropout: { type: 'number', default: 0.05, min: 0, exclusiveMax: 1, description: 'Dropout before the adapter.' },
      init: { type: 'enum', values: ['gaussian', 'pissa'], required: true, description: 'Initialisation.' },
      adapter_path: { type: 'path', mustExist: 'directory', description: 'Start from these adapters.' },
      conversation_template: {
        type: 'enum',
        values: ['empty', 'llama2', 'llama3', 'chatml', 'qwen2', 'phi3', 'gemma', 'zephyr', 'deepseek', 'yi', 'hf_auto'],
        description: 'How conversations are laid out.',
      },
    });
    expect(formatOptionsHelp([group], { general: false })).toBe(
      [
        'LoRA:',
        '  --use_lora [true|false], --no_use_lora',
        '      Train low-rank adapters instead of all weights. Default: false.',
        '  --lora_r, --r <integer>',
        '      Rank of the update. Default: 8. Expects an integer >= 1.',
        '  --lora_target_modules <string> [<string> ...]',
        '      Names of the linear modules to wrap; each name matches the last part of a',
        '      module path, as in PEFT. Default: q_proj,v_proj. Expects one or more',
        '      strings.',
        '  --lora_dropout <number>',
        '      Dropout before the adapter. Default: 0.05. Expects a number >= 0 and < 1.',
        '  --init {gaussian,pissa}',
        '      Initialisation. Required.',
        '  --adapter_path <path>',
        '      Start from these adapters. Expects an existing folder.',
        '  --conversation_template <choice>',
        '      How conversations are laid out. One of: empty, llama2, llama3, chatml,',
        '      qwen2, phi3, gemma, zephyr, deepseek, yi, hf_auto.',
      ].join('\n'),
    );
  });

  it('names every flag of every group with its default, then the general flags', () => {
    const text = formatOptionsHelp(allGroups);
    for (const group of allGroups) {
      expect(text).toContain(`\n${group.title}:\n`.trimStart());
      for (const [name, spec] of Object.entries(group.options)) {
        expect(text).toMatch(new RegExp(`^  --${name}[ ,]`, 'm'));
        if (spec.default !== undefined) {
          const shown = Array.isArray(spec.default) ? spec.default.join(',') : typeof spec.default === 'number' && spec.default < 1e-3 ? spec.default.toExponential() : String(spec.default);
          expect(text).toContain(`Default: ${shown}.`);
        }
      }
    }
    expect(text).toContain('Default: 2e-5.');
    expect(text).toMatch(/^General:\n  --config <file>\n/m);
    expect(text).toContain('\n  -h, --help\n      Show this help and exit.');
    expect(Math.max(...text.split('\n').map((line) => line.length))).toBeLessThanOrEqual(80);
  });
});
