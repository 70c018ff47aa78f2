import { describe, expect, it } from 'vitest';
import { expectClose, gradCheck, randomInput, toleranceFor } from '@lmflow/test-utils';
import { cpuSimdLevel, embedding, gather, indexAdd, indexSelect, scatterAdd, setCpuSimdLevel, tensor, tidy, type DType, type Tensor } from '../index.js';

const DEVICES = ['reference', 'cpu'] as const;
const f64 = (shape: number[], seed: number) => randomInput(shape, { dtype: 'f64', device: 'reference', seed });

/** Random indices in [0, n) (repeats included), as i32 or i64. */
function ids(shape: number[], n: number, seed: number, dtype: DType = 'i32', device = 'reference'): Tensor {
  return tidy(() => randomInput(shape, { dtype: 'f64', device, seed, uniform: [0, n] }).cast(dtype));
}

describe('indexSelect and indexAdd', () => {
  it('pick and add slices along any axis, with repeated indices', () => {
    for (const device of DEVICES) {
      tidy(() => {
        const x = tensor([[1, 2, 3], [4, 5, 6]], { device });
        const i = tensor([2, 0, 2], { dtype: 'i64', device });
        expect(indexSelect(x, 1, i).toArray()).toEqual([[3, 1, 3], [6, 4, 6]]);
        expect(x.indexSelect(0, tensor([1, 1], { dtype: 'i32', device })).toArray()).toEqual([[4, 5, 6], [4, 5, 6]]);
        const src = tensor([[10, 20, 30], [40, 50, 60]], { device });
        expect(indexAdd(x, 1, i, src).toArray()).toEqual([[21, 2, 43], [54, 5, 106]]);
        expect(x.toArray()).toEqual([[1, 2, 3], [4, 5, 6]]); // out of place
      });
    }
  });

  it('cpu matches the reference on strided inputs, every float dtype and large sizes', () => {
    const original = cpuSimdLevel() as 'avx512' | 'avx2' | 'scalar';
    try {
      for (const level of ['avx512', 'scalar'] as const) {
        setCpuSimdLevel(level);
        for (const dtype of ['f32', 'bf16', 'f16', 'f64', 'i32'] as const) {
          for (const [shape, axis, layout] of [[[17, 129], 0, 'transposed'], [[3, 33, 5], 1, 'strided'], [[300, 129], 0, 'contiguous']] as const) {
            tidy(() => {
              const x = randomInput([...shape], { dtype: dtype === 'i32' ? 'f32' : dtype, device: 'cpu', seed: 2, layout }).cast(dtype);
              const index = ids([257], shape[axis], 3, 'i64', 'cpu');
              const label = `${dtype} [${shape}] axis ${axis} ${layout} ${level}`;
              const picked = indexSelect(x, axis, index);
              expectClose(picked, indexSelect(x.to('reference'), axis, index.to('reference')), { atol: 0, rtol: 0 }, label);
              const srcShape: number[] = [...shape];
              srcShape[axis] = 257;
              const src = randomInput(srcShape, { dtype: dtype === 'i32' ? 'f32' : dtype, device: 'cpu', seed: 4, layout }).cast(dtype);
              const added = indexAdd(x, axis, index, src);
              const expected = indexAdd(x.to('reference'), axis, index.to('reference'), src.to('reference'));
              expectClose(added, expected, dtype === 'i32' ? { atol: 0, rtol: 0 } : toleranceFor(dtype), `indexAdd ${label}`);
            });
          }
        }
      }
    } finally {
      setCpuSimdLevel(original);
    }
  });

  it('gradients flow to the data, summed over repeated indices', () => {
    const x = f64([5, 4], 1);
    const i = tensor([4, 0, 4, 2], { dtype: 'i32', device: 'reference' });
    gradCheck((t) => indexSelect(t!, 0, i), [x]);
    gradCheck((t) => indexSelect(t!, 1, tensor([3, 3, 1], { dtype: 'i64', device: 'reference' })), [x]);
    const src = f64([5, 4], 2);
    gradCheck((a, b) => indexAdd(a!, 0, tensor([1, 1, 0, 3, 1], { dtype: 'i32', device: 'reference' }), b!), [x, src]);
    for (const t of [x, i, src]) t.dispose();
  });

  it('out-of-range and negative indices throw, naming the op and the index, before writing', () => {
    for (const device of DEVICES) {
      tidy(() => {
        const x = tensor([[1, 2], [3, 4]], { device });
        expect(() => indexSelect(x, 0, tensor([0, 2], { dtype: 'i32', device }))).toThrow(
          'indexSelect: index 2 (element 1 of index) is out of range for axis 0 of size 2',
        );
        expect(() => indexSelect(x, 1, tensor([-1], { dtype: 'i64', device }))).toThrow(/indexSelect: index -1 \(element 0 of index\) is out of range/);
        const out = tensor([[0, 0], [0, 0]], { device });
        expect(() => indexAdd(out, 0, tensor([1, 5], { dtype: 'i32', device }), x)).toThrow(/indexAdd: index 5/);
        expect(() => indexSelect(x, 0, tensor([0], { device }))).toThrow(/indexSelect: index must be i32 or i64, got .*f32/);
      });
    }
  });
});

describe('embedding', () => {
  it('looks up rows for ids of any shape and adds repeated ids in the backward', () => {
    for (const device of DEVICES) {
      tidy(() => {
        const weight = tensor([[0, 1], [10, 11], [20, 21]], { device, requiresGrad: true });
        const tokens = tensor([[2, 0, 2], [1, 2, 2]], { dtype: 'i32', device });
        const out = embedding(weight, tokens);
        expect(out.shape).toEqual([2, 3, 2]);
        expect(out.toArray()).toEqual([[[20, 21], [0, 1], [20, 21]], [[10, 11], [20, 21], [20, 21]]]);
        out.mul(tensor([1, 2], { device })).sum().backward();
        // id 2 appears four times, 0 once, 1 once.
        expect(weight.grad!.toArray()).toEqual([[1, 2], [1, 2], [4, 8]]);
      });
    }
  });

  it('cpu gradients match the reference for a large batch with many repeats (f32, bf16)', () => {
    for (const dtype of ['f32', 'bf16'] as const) {
      tidy(() => {
        const w = randomInput([50, 129], { dtype, device: 'reference', seed: 5 });
        const tokens = ids([8, 300], 50, 6, 'i64');
        const grads = DEVICES.map((device) => {
          const leaf = w.to(device).detach().requiresGrad_();
          const out = embedding(leaf, tokens.to(device));
          const g = randomInput(out.shape, { dtype, device, seed: 7, layout: 'transposed' });
          out.backward({ gradient: g });
          return leaf.grad!;
        });
        expectClose(grads[1]!, grads[0]!, toleranceFor(dtype), `embedding grad ${dtype}`);
      });
    }
    const w = f64([6, 3], 8);
    gradCheck((t) => embedding(t!, tensor([[5, 0], [5, 5]], { dtype: 'i64', device: 'reference' })), [w]);
    w.dispose();
  });

  it('checks its arguments', () => {
    tidy(() => {
      const w = tensor([[1, 2]], { device: 'reference' });
      expect(() => embedding(w, tensor([0.5], { device: 'reference' }))).toThrow(/embedding: ids must be i32 or i64/);
      expect(() => embedding(tensor([1, 2], { device: 'reference' }), tensor([0], { dtype: 'i32', device: 'reference' }))).toThrow(
        /embedding: weight must have 2 dimensions \(vocabulary, channels\)/,
      );
      expect(() => embedding(w, tensor([3], { dtype: 'i32', device: 'reference' }))).toThrow('indexSelect: index 3 (element 0 of index) is out of range for axis 0 of size 1');
    });
  });
});

describe('gather and scatterAdd', () => {
  it('follow torch: out[i][j] = x[i][index[i][j]], out[i][index[i][j]] += src[i][j]', () => {
    for (const device of DEVICES) {
      tidy(() => {
        const x = tensor([[1, 2, 3], [4, 5, 6]], { device });
        const index = tensor([[2, 2], [0, 1]], { dtype: 'i64', device });
        expect(gather(x, 1, index).toArray()).toEqual([[3, 3], [4, 5]]);
        expect(x.gather(0, tensor([[1, 0, 1]], { dtype: 'i32', device })).toArray()).toEqual([[4, 2, 6]]);
        const src = tensor([[10, 20], [30, 40]], { device });
        expect(scatterAdd(x, 1, index, src).toArray()).toEqual([[1, 2, 33], [34, 45, 6]]);
        // index smaller than src: only the index-shaped corner of src is used
        const bigSrc = tensor([[10, 20, 99], [30, 40, 99]], { device });
        expect(x.scatterAdd(1, index, bigSrc).toArray()).toEqual([[1, 2, 33], [34, 45, 6]]);
      });
    }
  });

  it('cpu matches the reference on strided operands and repeated destinations', () => {
    for (const dtype of ['f32', 'bf16', 'f64'] as const) {
      for (const [shape, axis] of [[[7, 9, 5], 1], [[40, 300], 0], [[40, 300], 1]] as const) {
        tidy(() => {
          const x = randomInput([...shape], { dtype, device: 'cpu', seed: 9, layout: 'transposed' });
          const indexShape: number[] = [...shape];
          indexShape[axis] = 11;
          const index = ids(indexShape, shape[axis], 10, 'i32', 'cpu');
          const src = randomInput(indexShape, { dtype, device: 'cpu', seed: 11, layout: 'strided' });
          const label = `${dtype} [${shape}] axis ${axis}`;
          expectClose(gather(x, axis, index), gather(x.to('reference'), axis, index.to('reference')), { atol: 0, rtol: 0 }, `gather ${label}`);
          expectClose(scatterAdd(x, axis, index, src), scatterAdd(x.to('reference'), axis, index.to('reference'), src.to('reference')), toleranceFor(dtype), `scatterAdd ${label}`);
        });
      }
    }
  });

  it('gradients', () => {
    const x = f64([3, 4], 12);
    const index = tensor([[3, 3, 0], [1, 2, 1], [0, 0, 0]], { dtype: 'i32', device: 'reference' });
    gradCheck((t) => gather(t!, 1, index), [x]);
    const src = f64([3, 3], 13);
    gradCheck((a, b) => scatterAdd(a!, 1, index, b!), [x, src]);
    const bigSrc = f64([3, 5], 14);
    gradCheck((a, b) => scatterAdd(a!, 1, index, b!), [x, bigSrc]);
    for (const t of [x, index, src, bigSrc]) t.dispose();
  });

  it('errors name the op, the shapes and the bad index', () => {
    for (const device of DEVICES) {
      tidy(() => {
        const x = tensor([[1, 2], [3, 4]], { device });
        expect(() => gather(x, 1, tensor([[0, 2]], { dtype: 'i32', device }))).toThrow('gather: index 2 (element 1 of index) is out of range for axis 1 of size 2');
        expect(() => gather(x, 1, tensor([0, 1], { dtype: 'i32', device }))).toThrow(/gather: index \[2\] does not fit x \[2, 2\]/);
        expect(() => scatterAdd(x, 0, tensor([[0, 7]], { dtype: 'i64', device }), x)).toThrow(/scatterAdd: index 7/);
        expect(() => scatterAdd(x, 0, tensor([[0, 1, 0]], { dtype: 'i64', device }), x)).toThrow(/scatterAdd: index \[1, 3\] does not fit src \[2, 2\]/);
      });
    }
  });
});
