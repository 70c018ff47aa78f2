import { describe, expect, it } from 'vitest';
import { expectClose, gradCheck, randomInput } from '@lmflow/test-utils';
import { arange, cat, chunk, split, stack, tensor, tidy, type Tensor } from '../index.js';

const f64 = (shape: number[], seed: number) => randomInput(shape, { dtype: 'f64', device: 'reference', seed });

describe('cat and stack', () => {
  it('join along any axis, including non-contiguous inputs', () => {
    for (const device of ['reference', 'cpu']) {
      tidy(() => {
        const a = tensor([[1, 2], [3, 4]], { device });
        const b = tensor([[5], [6]], { device });
        expect(cat([a, b], 1).toArray()).toEqual([[1, 2, 5], [3, 4, 6]]);
        expect(cat([a, a.transpose()], 0).toArray()).toEqual([[1, 2], [3, 4], [1, 3], [2, 4]]);
        expect(cat([a, b.transpose()], -2).toArray()).toEqual([[1, 2], [3, 4], [5, 6]]);
        expect(stack([a, a.mul(10)], 0).toArray()).toEqual([[[1, 2], [3, 4]], [[10, 20], [30, 40]]]);
        expect(stack([a, a.mul(10)], 2).toArray()).toEqual([[[1, 10], [2, 20]], [[3, 30], [4, 40]]]);
        expect(stack([tensor(1, { device }), tensor(2, { device })]).toFlatArray()).toEqual([1, 2]);
      });
    }
  });

  it('match between backends on large strided inputs', () => {
    tidy(() => {
      const parts = [randomInput([33, 129], { device: 'cpu', seed: 1, layout: 'transposed' }), randomInput([33, 7], { device: 'cpu', seed: 2, layout: 'strided' }), randomInput([33, 300], { device: 'cpu', seed: 3 })];
      expectClose(cat(parts, 1), cat(parts.map((p) => p.to('reference')), 1), { atol: 0, rtol: 0 });
    });
  });

  it('send each input its slice of the gradient', () => {
    const a = f64([2, 3], 1);
    const b = f64([2, 5], 2);
    const c = f64([2, 1], 3);
    gradCheck((x, y, z) => cat([x!, y!, z!], 1), [a, b, c]);
    gradCheck((x, y) => stack([x!, y!], 1).mul(x!.unsqueeze(1)), [a, f64([2, 3], 4)]);
    tidy(() => {
      // Only the inputs that require grad get one.
      const w = a.detach().requiresGrad_();
      const frozen = b.detach();
      cat([w, frozen], 1).sum().backward();
      expect(w.grad!.toFlatArray()).toEqual([1, 1, 1, 1, 1, 1]);
      expect(frozen.grad).toBeNull();
    });
    for (const t of [a, b, c]) t.dispose();
  });

  it('errors name the op, the tensor and the shapes', () => {
    tidy(() => {
      const a = tensor([[1, 2]], { device: 'reference' });
      expect(() => cat([a, tensor([[1, 2, 3], [4, 5, 6]], { device: 'reference' })], 0)).toThrow(
        'cat: tensor 1 has shape [2, 3] but tensor 0 has [1, 2]; they must match in every dimension except axis 0',
      );
      expect(() => cat([a, a.cast('f64')])).toThrow(/cat: tensor 1 .* has dtype f64, but tensor 0 is f32/);
      expect(() => cat([])).toThrow('cat: expected a non-empty array of tensors');
      expect(() => stack([a, tensor([1, 2], { device: 'reference' })])).toThrow('stack: tensor 1 has shape [2] but tensor 0 has [1, 2]; stack needs equal shapes');
    });
  });
});

describe('split and chunk', () => {
  it('return views of the given sizes', () => {
    tidy(() => {
      const x = arange(10, undefined, 1, { device: 'cpu', dtype: 'f32' }).reshape(2, 5);
      const [p, q] = split(x, [2, 3], 1) as [Tensor, Tensor];
      expect(p.toArray()).toEqual([[0, 1], [5, 6]]);
      expect(q.toArray()).toEqual([[2, 3, 4], [7, 8, 9]]);
      expect(p.storage).toBe(x.storage);
      expect(split(x, 2, 1).map((t) => t.shape[1])).toEqual([2, 2, 1]);
      expect(x.chunk(2, 1).map((t) => t.shape[1])).toEqual([3, 2]);
      expect(chunk(x, 4, 0).map((t) => t.shape[0])).toEqual([1, 1]);
      expect(() => split(x, [2, 2], 1)).toThrow(/split: sizes \[2, 2\] must be non-negative integers adding up to 5/);
      expect(() => chunk(x, 0)).toThrow('chunk: the number of chunks must be a positive integer, got 0');
    });
  });

  it('gradients reach the split tensor', () => {
    const x = f64([4, 6], 5);
    gradCheck((t) => {
      const [a, b, c] = split(t!, [1, 3, 2], 1) as [Tensor, Tensor, Tensor];
      return cat([c.mul(b.sum(1, true)), a.exp()], 1);
    }, [x]);
    gradCheck((t) => {
      const [a, b] = chunk(t!, 2, 0) as [Tensor, Tensor];
      return a.mul(b);
    }, [x]);
    x.dispose();
  });
});
