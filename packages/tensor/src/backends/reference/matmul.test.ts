/** The reference matmul kernel itself: the contract's semantics on small known values. */
import { describe, expect, it } from 'vitest';
import { emptyOn, viewOf } from '../../tensor.js';
import { getBackend } from '../../device.js';
import { tidy } from '../../memory/scope.js';
import { tensor } from '../../ops/creation.js';

const backend = getBackend('reference');
const ref = (data: number[][] | number[], dtype: 'f32' | 'f64' | 'bf16' = 'f32') => tensor(data, { device: 'reference', dtype });

describe('reference matmul kernel', () => {
  it('computes alpha * a @ b + beta * out', () => {
    tidy(() => {
      const out = ref([[1, 1], [1, 1]]);
      backend.matmul(ref([[1, 2], [3, 4]]), ref([[5, 6], [7, 8]]), out, { alpha: 2, beta: -1 });
      expect(out.toArray()).toEqual([[37, 43], [85, 99]]);
    });
  });

  it('ignores the old contents of out when beta = 0, NaN included', () => {
    tidy(() => {
      const out = ref([[NaN]]);
      backend.matmul(ref([[1, 2]]), ref([[3], [4]]), out, { alpha: 1, beta: 0 });
      expect(out.toArray()).toEqual([[11]]);
    });
  });

  it('honours strides: transposed operands and stride-0 batch broadcasting', () => {
    tidy(() => {
      const a = ref([[1, 3], [2, 4]]); // stored transposed: a^T = [[1, 2], [3, 4]]
      const at = viewOf(a, [2, 2], [1, 2], 0);
      const b = ref([[1, 0], [0, 1]]);
      const b2 = viewOf(b, [3, 2, 2], [0, 2, 1], 0); // the identity, broadcast over 3
      const a2 = viewOf(a, [3, 2, 2], [0, 1, 2], 0);
      const out = emptyOn(backend, [3, 2, 2], 'f32');
      backend.matmul(a2, b2, out, { alpha: 1, beta: 0 });
      expect(out.toFlatArray()).toEqual([1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4]);
      const out2 = emptyOn(backend, [2, 2], 'f32');
      backend.matmul(at, at, out2, { alpha: 1, beta: 0 });
      expect(out2.toArray()).toEqual([[7, 10], [15, 22]]);
    });
  });

  it('keeps f64 in f64 and rounds bf16 outputs once', () => {
    tidy(() => {
      const out = emptyOn(backend, [1, 1], 'f64');
      backend.matmul(ref([[1 + 2 ** -40, 1]], 'f64'), ref([[1], [2 ** -45]], 'f64'), out, { alpha: 1, beta: 0 });
      expect(out.item()).toBe(1 + 2 ** -40 + 2 ** -45);
      const bf = emptyOn(backend, [1, 1], 'bf16');
      // 1 + 4 * 2^-9 = 1 + 2^-7 is a bf16 value; rounding after each term would give 1.
      backend.matmul(ref([[1, 1, 1, 1, 1]], 'bf16'), ref([[1], [2 ** -9], [2 ** -9], [2 ** -9], [2 ** -9]], 'f32'), bf, { alpha: 1, beta: 0 });
      expect(bf.item()).toBe(1 + 2 ** -7);
    });
  });

  it('rejects mismatched shapes and integer operands', () => {
    tidy(() => {
      const out = emptyOn(backend, [2, 2], 'f32');
      expect(() => backend.matmul(ref([[1, 2, 3], [4, 5, 6]]), ref([[1, 2], [3, 4]]), out, { alpha: 1, beta: 0 })).toThrow(
        'matmul: expected a (..., M, K), b (..., K, N), out (..., M, N) with equal batch dims, got a [2, 3], b [2, 2], out [2, 2]',
      );
      const i = tensor([[1, 2], [3, 4]], { device: 'reference', dtype: 'i32' });
      expect(() => backend.matmul(i, ref([[1, 2], [3, 4]]), out, { alpha: 1, beta: 0 })).toThrow('matmul: a must be f32, bf16, f16 or f64, got i32');
    });
  });
});
