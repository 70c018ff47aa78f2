/**
 * LMFlow's conversation templates by name, exactly as ../shared/spec/lmflow-conversation-templates.md
 * states them. A formatter is a list of components: a string with `{{content}}` substituted
 * (encoded on its own, without special tokens) or a token (`bos_token`, `eos_token`, or a token
 * by name, added as one id).
 */
export type TemplateComponent = { readonly type: 'string'; readonly content: string } | { readonly type: 'token'; readonly content: string };

export interface PresetTemplate {
  readonly kind: 'preset';
  readonly name: string;
  readonly user: readonly TemplateComponent[];
  readonly assistant: readonly TemplateComponent[];
  /** null: the template has no system role, and a system prompt is an error. */
  readonly system: readonly TemplateComponent[] | null;
  /** llama2: the formatted system text goes inside the first user string, right after `[INST] `. */
  readonly systemInFirstUser?: boolean;
  /** zephyr: without a system prompt, the first user string loses its leading newline. */
  readonly firstUserDropsNewlineWithoutSystem?: boolean;
  /** Put once before the first user ids (masked). */
  readonly specialStarter?: TemplateComponent;
  /** Put once after the last assistant ids (learned with them). */
  readonly specialStopper?: TemplateComponent;
  /** Shown (once per dataset) when a system prompt is used: the model has no system role. */
  readonly systemWarning?: string;
}

const s = (content: string): TemplateComponent => ({ type: 'string', content });
const BOS: TemplateComponent = { type: 'token', content: 'bos_token' };
const EOS: TemplateComponent = { type: 'token', content: 'eos_token' };

const chatml = (role: string) => s(`<|im_start|>${role}\n{{content}}<|im_end|>\n`);
const llama3 = (role: string) => s(`<|start_header_id|>${role}<|end_header_id|>\n\n{{content}}<|eot_id|>`);

const PRESETS: readonly PresetTemplate[] = [
  { kind: 'preset', name: 'empty', user: [BOS, s('{{content}}')], assistant: [s('{{content}}'), EOS], system: null },
  { kind: 'preset', name: 'empty_no_special_tokens', user: [s('{{content}}')], assistant: [s('{{content}}')], system: null },
  {
    kind: 'preset',
    name: 'llama2',
    user: [BOS, s('[INST] {{content}} [/INST]')],
    assistant: [s('{{content}}'), EOS],
    system: [s('<<SYS>>\n{{content}}\n<</SYS>>\n\n')],
    systemInFirstUser: true,
  },
  { kind: 'preset', name: 'llama3', user: [llama3('user')], assistant: [llama3('assistant')], system: [llama3('system')], specialStarter: BOS },
  { kind: 'preset', name: 'chatml', user: [chatml('user')], assistant: [chatml('assistant')], system: [chatml('system')] },
  { kind: 'preset', name: 'qwen2', user: [chatml('user')], assistant: [chatml('assistant')], system: [chatml('system')] },
  { kind: 'preset', name: 'internlm2', user: [chatml('user')], assistant: [chatml('assistant')], system: [chatml('system')], specialStarter: BOS },
  { kind: 'preset', name: 'yi1_5', user: [chatml('user')], assistant: [chatml('assistant')], system: [s('{{content}}')] },
  {
    kind: 'preset',
    name: 'phi3',
    user: [s('<|user|>\n{{content}}<|end|>\n')],
    assistant: [s('<|assistant|>\n{{content}}<|end|>\n')],
    system: [s('<|system|>\n{{content}}<|end|>\n')],
    specialStarter: BOS,
    specialStopper: EOS,
  },
  {
    kind: 'preset',
    name: 'gemma',
    user: [s('<start_of_turn>user\n{{content}}<end_of_turn>\n')],
    assistant: [s('<start_of_turn>model\n{{content}}<end_of_turn>\n')],
    system: [s('{{content}}')],
    specialStarter: BOS,
    systemWarning: 'Gemma has no system role: the system prompt is put as plain text before the first user turn',
  },
  {
    kind: 'preset',
    name: 'zephyr',
    user: [s('\n<|user|>\n{{content}}'), EOS],
    assistant: [s('\n<|assistant|>\n{{content}}'), EOS],
    system: [s('<|system|>\n{{content}}'), EOS],
    firstUserDropsNewlineWithoutSystem: true,
  },
  {
    kind: 'preset',
    name: 'deepseek',
    user: [s('User: {{content}}\n\n')],
    assistant: [s('Assistant: {{content}}'), EOS],
    system: [s('{{content}}\n\n')],
    specialStarter: BOS,
  },
];

/** Other names LMFlow accepts for the same templates. */
export const PRESET_ALIASES: Readonly<Record<string, string>> = {
  disable: 'empty',
  yi: 'chatml',
  deepseek_v2: 'deepseek',
};

export const PRESET_NAMES: readonly string[] = PRESETS.map((p) => p.name);

export function findPreset(name: string): PresetTemplate | undefined {
  const target = PRESET_ALIASES[name] ?? name;
  return PRESETS.find((p) => p.name === target);
}
