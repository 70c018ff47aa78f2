import { describe, expect, it } from 'vitest';
import { enableLeakReporter, disableLeakReporter, keep, liveTensorCount, tidy, zeros, type LeakReport } from '../index.js';

const device = 'reference';

describe('tensor lifetimes', () => {
  it('nested tidy scopes move results outward and dispose the rest', () => {
    const before = liveTensorCount();
    const outer = tidy(() => {
      const inner = tidy(() => {
        zeros([2], { device });
        return { a: zeros([3], { device }), list: [zeros([4], { device })] };
      });
      expect(liveTensorCount()).toBe(before + 2);
      zeros([5], { device });
      return inner.a;
    });
    expect(liveTensorCount()).toBe(before + 1);
    outer.dispose();
    expect(liveTensorCount()).toBe(before);
  });

  it('keep() lets a tensor outlive its scope; a throwing scope disposes everything', () => {
    const before = liveTensorCount();
    let kept = null as ReturnType<typeof zeros> | null;
    expect(() =>
      tidy(() => {
        kept = keep(zeros([2], { device }));
        zeros([2], { device });
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(liveTensorCount()).toBe(before + 1);
    kept!.dispose();
    expect(liveTensorCount()).toBe(before);
  });

  it('`using` disposes at the end of the block', () => {
    const before = liveTensorCount();
    {
      using t = zeros([2], { device });
      expect(t.isDisposed).toBe(false);
      expect(liveTensorCount()).toBe(before + 1);
    }
    expect(liveTensorCount()).toBe(before);
  });

  it('reports a tensor the garbage collector reclaimed without dispose()', async () => {
    const gc = (globalThis as { gc?: () => void }).gc;
    expect(gc, 'tests run with --expose-gc (vitest.config.ts)').toBeTypeOf('function');
    const leaks: LeakReport[] = [];
    enableLeakReporter({ onLeak: (leak) => leaks.push(leak) });
    try {
      (() => {
        zeros([7, 3], { device }); // dropped on the floor
        zeros([2], { device }).dispose(); // disposed: not a leak
      })();
      for (let i = 0; i < 20 && leaks.length === 0; i++) {
        gc!();
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    } finally {
      disableLeakReporter();
    }
    expect(leaks.map((l) => l.shape)).toEqual([[7, 3]]);
  });
});
