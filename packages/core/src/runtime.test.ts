import { describe, expect, it, vi } from 'vitest';
import { createRuntime, PluginError, registerCoreCopy, STAGE_EARLY, STAGE_LATE, type Plugin } from './index.js';

describe('createRuntime', () => {
  it('applies plugins in order and ignores falsy entries', () => {
    const order: string[] = [];
    const plugin = (name: string): Plugin => ({ name, apply: () => void order.push(name) });
    const runtime = createRuntime({ plugins: [plugin('a'), false, null, undefined, plugin('b')] });
    expect(order).toEqual(['a', 'b']);
    expect(runtime.plugins.map((p) => p.name)).toEqual(['a', 'b']);
  });

  it('hooks objects are frozen: no hook can be added at run time', () => {
    const runtime = createRuntime();
    expect(Object.isFrozen(runtime.trainer.hooks)).toBe(true);
    expect(() => {
      (runtime.trainer.hooks as unknown as Record<string, unknown>).extra = 1;
    }).toThrow();
  });

  it('names a plugin that throws while applying', () => {
    const bad: Plugin = { name: 'bad-plugin', apply: () => { throw new Error('no GPU'); } };
    expect(() => createRuntime({ plugins: [bad] })).toThrow('plugin "bad-plugin" failed in apply: no GPU');
  });

  it('names a plugin whose tap throws, sync and async, and in HookMaps', async () => {
    const runtime = createRuntime({
      plugins: [
        {
          name: 'lora',
          apply(rt) {
            rt.model.hooks.wrapModule.for('linear').tap('lora', () => { throw new Error('rank must be positive'); });
            rt.trainer.hooks.afterRun.tapPromise('lora', async () => { throw new Error('disk full'); });
          },
        },
      ],
    });
    const module = { kind: 'linear', name: 'q_proj' } as never;
    let error: unknown;
    try {
      runtime.model.hooks.wrapModule.for('linear').call(module, {} as never);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(PluginError);
    expect((error as Error).message).toBe('plugin "lora" failed in model.hooks.wrapModule(linear): rank must be positive');
    await expect(runtime.trainer.hooks.afterRun.promise({} as never)).rejects.toThrow('plugin "lora" failed in trainer.hooks.afterRun: disk full');
  });

  it('orders taps by stage constants', () => {
    const order: string[] = [];
    const runtime = createRuntime({
      plugins: [
        { name: 'late', apply: (rt) => rt.trainer.hooks.beforeEpoch.tap({ name: 'late', stage: STAGE_LATE }, () => void order.push('late')) },
        { name: 'plain', apply: (rt) => rt.trainer.hooks.beforeEpoch.tap('plain', () => void order.push('plain')) },
        { name: 'early', apply: (rt) => rt.trainer.hooks.beforeEpoch.tap({ name: 'early', stage: STAGE_EARLY }, () => void order.push('early')) },
      ],
    });
    runtime.trainer.hooks.beforeEpoch.call({} as never);
    expect(order).toEqual(['early', 'plain', 'late']);
  });

  it('rejects an unknown module kind and a factory passed uncalled', () => {
    const runtime = createRuntime();
    expect(() => runtime.model.hooks.wrapModule.for('conv')).toThrow(/unknown module kind "conv"/);
    const factory = () => ({ name: 'x', apply() {} });
    expect(() => createRuntime({ plugins: [factory as never] })).toThrow(/plugins\[0\] is not a plugin.*factory/);
  });
});

describe('a second copy of @lmflow/core', () => {
  it('is reported with both locations', () => {
    const report = vi.fn();
    registerCoreCopy('file:///elsewhere/node_modules/@lmflow/core/dist/index.js', report);
    expect(report).toHaveBeenCalledOnce();
    expect(report.mock.calls[0]![0]).toMatch(/loaded twice.*elsewhere.*peer dependency/);
  });
});
