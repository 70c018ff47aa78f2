/**
 * The CUDA backend: device memory from a caching allocator, every kernel queued on one
 * stream per device (native-cuda/), host copies through pinned staging buffers, and an
 * asynchronous sync/download that polls a CUDA event so the event loop stays free.
 *
 * Created on first use of a `cuda` / `cuda:N` device (src/device.ts); creating it loads the
 * library and fails with the reason when there is no usable GPU.
 */
import type { AttentionOptions, Backend, BinaryOp, CompareOp, Nf4Weight, ReduceOp, ScalarOp, Storage, UnaryOp, View } from '../../backend.js';
import { hostArray, itemSize, type DType, type HostArray } from '../../dtype.js';
import { contiguousStrides, isContiguous, numel } from '../../shape.js';
import { isNativeAddonAvailable } from '../cpu/native.js';
import { cpuQuant } from '../cpu/quant.js';
import { referenceQuant } from '../reference/quant.js';
import { cudaStatus, kernel, loadCudaAddon, type CudaAddon } from './addon.js';
import { createCachingAllocator, type AllocatorStats, type CachingAllocator } from './allocator.js';
import { ArgPacker, type CudaHandle } from './args.js';
import { argmaxPlan, coalesceViews, gemmPlan, reducePlan } from './plans.js';

// Operation codes shared with native-cuda (the switch statements in elementwise.cu).
const UNARY: Record<UnaryOp, number> = {
  neg: 0, abs: 1, exp: 2, log: 3, sqrt: 4, rsqrt: 5, square: 6, reciprocal: 7,
  sin: 8, cos: 9, tanh: 10, sigmoid: 11, relu: 12, silu: 13, gelu: 14, gelu_tanh: 15,
};
const BINARY: Record<BinaryOp, number> = { add: 0, sub: 1, mul: 2, div: 3, maximum: 4, minimum: 5, pow: 6 };
const COMPARE: Record<CompareOp, number> = { eq: 0, ne: 1, lt: 2, le: 3, gt: 4, ge: 5 };
const SCALAR: Record<ScalarOp, number> = { add: 0, mul: 1, pow: 2, maximum: 3, minimum: 4, rsub: 5, rdiv: 6 };
const REDUCE: Record<ReduceOp, number> = { sum: 0, max: 1, min: 2 };
const RANDOM = { uniform: 0, normal: 1, bernoulli: 2 } as const;

const allocators = new Map<number, CachingAllocator>();

/** Memory statistics of cuda:index's caching allocator (zeros before the device is used). */
export function cudaMemoryStats(index = 0): AllocatorStats {
  return allocators.get(index)?.stats() ?? { allocatedBytes: 0, cachedBytes: 0, peakAllocatedBytes: 0, deviceMallocs: 0 };
}

/** Returns cached device memory of every cuda device to the driver (torch.cuda.empty_cache). */
export function emptyCudaCache(): void {
  for (const a of allocators.values()) a.emptyCache();
}

/** f32 matrix products on TF32 tensor cores (faster, 10-bit mantissa inputs); off by default. */
export function setCudaTf32(on: boolean): void {
  loadCudaAddon().setTf32(on);
}

function handleOf(storage: Storage): CudaHandle {
  return storage.handle as CudaHandle;
}

/** Device pointer of a view's first element. */
function elementPtr(view: View): number {
  return handleOf(view.storage).ptr + view.offset * itemSize(view.dtype);
}

export function createCudaBackend(index: number): Backend {
  const device = `cuda:${index}`;
  const status = cudaStatus(index);
  if (!status.available) throw new Error(`device "${device}" is not available: ${status.reason}`);
  const lib: CudaAddon = loadCudaAddon();
  const allocator = createCachingAllocator(
    { malloc: (bytes) => lib.malloc(index, bytes), free: (ptr) => lib.free(index, ptr) },
    device,
    (Number(process.env.LMFLOW_CUDA_CACHE_MB) || Number.POSITIVE_INFINITY) * 1024 * 1024,
  );
  allocators.set(index, allocator);
  const packer = new ArgPacker();
  const calls = new Map<string, (a: Float64Array, n: number) => void>();
  const args = () => packer.begin(index);
  function run(name: string): void {
    let fn = calls.get(name);
    if (!fn) calls.set(name, (fn = kernel(lib, name)));
    const [data, n] = packer.finish();
    fn(data, n);
  }

  function allocate(dtype: DType, length: number): Storage {
    const { ptr, size } = allocator.allocate(Math.max(1, length * itemSize(dtype)));
    return { backend, dtype, length, handle: { ptr, bytes: size } satisfies CudaHandle };
  }
  function release(storage: Storage): void {
    const h = handleOf(storage);
    allocator.release(h.ptr, h.bytes);
  }
  /** A contiguous device copy of view (the caller releases it). */
  function contiguousCopy(view: View): View {
    const storage = allocate(view.dtype, numel(view.shape));
    const out: View = { storage, dtype: view.dtype, shape: view.shape, strides: contiguousStrides(view.shape), offset: 0 };
    backend.copy(view, out);
    return out;
  }
  function downloadSync(view: View): HostArray {
    const n = numel(view.shape);
    const out = hostArray(view.dtype, new ArrayBuffer(Math.max(1, n * itemSize(view.dtype))), n);
    if (n === 0) return out;
    if (isContiguous(view.shape, view.strides)) {
      lib.download(index, elementPtr(view), out);
      return out;
    }
    const dense = contiguousCopy(view);
    try {
      lib.download(index, elementPtr(dense), out);
    } finally {
      release(dense.storage);
    }
    return out;
  }
  /** Resolves once the stream has run everything queued so far, polling an event. */
  async function sync(): Promise<void> {
    const id = lib.recordEvent(index);
    // setImmediate for the first 2 ms, then 1 ms timers: a wait on a short queue (a decoding
    // step, a timed loop) then ends within microseconds of the GPU, where timers alone
    // overshoot by up to a millisecond, and a long wait does not keep a core busy.
    const start = performance.now();
    while (!lib.queryEvent(index, id)) {
      await new Promise((resolve) => (performance.now() - start < 2 ? setImmediate(resolve) : setTimeout(resolve, 1)));
    }
  }
  function hostView(dtype: DType, data: HostArray, shape: readonly number[]): View {
    const storage: Storage = { backend, dtype, length: data.length, handle: data };
    return { storage, dtype, shape, strides: contiguousStrides(shape), offset: 0 };
  }
  function nf4Parts(weight: Nf4Weight): ArgPacker {
    return packer.view(weight.codes).view(weight.absmaxCodes).view(weight.absmaxScales).num(weight.absmaxOffset);
  }
  function attentionTail(p: ArgPacker, o: AttentionOptions): void {
    p.num(o.scale).flag(o.causal).viewOrNull(o.qSegments && o.kSegments ? o.qSegments : null).viewOrNull(o.qSegments && o.kSegments ? o.kSegments : null);
  }

  const backend: Backend = {
    name: 'cuda',
    device,

    allocate,
    release,
    upload(storage, data, offset) {
      if (data.length + offset > storage.length) {
        throw new Error(`upload: ${data.length} elements at offset ${offset} do not fit a storage of ${storage.length}`);
      }
      if (data.length) lib.upload(index, handleOf(storage).ptr + offset * itemSize(storage.dtype), data);
    },
    async download(view) {
      await sync();
      return downloadSync(view);
    },
    downloadSync,
    sync,

    fill(out, value) {
      args().view(coalesceViews([out])[0]!).num(value);
      run('fill');
    },
    copy(src, out) {
      const [s, o] = coalesceViews([src, out]);
      args().view(s!).view(o!);
      run('copy');
    },
    random(out, kind, a, b, seed, offset) {
      args().view(coalesceViews([out])[0]!).num(RANDOM[kind]).num(a).num(b).num(seed).num(offset);
      run('random');
    },

    unary(op, x, out) {
      const [xv, ov] = coalesceViews([x, out]);
      args().num(UNARY[op]).view(xv!).view(ov!);
      run('unary');
    },
    unaryGrad(op, x, dy, out) {
      const [xv, dv, ov] = coalesceViews([x, dy, out]);
      args().num(UNARY[op]).view(xv!).view(dv!).view(ov!);
      run('unaryGrad');
    },
    binary(op, a, b, out) {
      const [av, bv, ov] = coalesceViews([a, b, out]);
      args().num(BINARY[op]).view(av!).view(bv!).view(ov!);
      run('binary');
    },
    compare(op, a, b, out) {
      const [av, bv, ov] = coalesceViews([a, b, out]);
      args().num(COMPARE[op]).view(av!).view(bv!).view(ov!);
      run('compare');
    },
    scalar(op, x, s, out) {
      const [xv, ov] = coalesceViews([x, out]);
      args().num(SCALAR[op]).view(xv!).num(s).view(ov!);
      run('scalar');
    },
    where(cond, a, b, out) {
      const [cv, av, bv, ov] = coalesceViews([cond, a, b, out]);
      args().view(cv!).view(av!).view(bv!).view(ov!);
      run('where');
    },
    reduce(op, x, axes, out) {
      const plan = reducePlan(x, axes);
      args().num(REDUCE[op]).view(plan.kept).view(plan.reduced).view(out);
      run('reduce');
    },
    argmax(x, axis, out) {
      const plan = argmaxPlan(x, axis);
      args().view(plan.kept).num(plan.length).num(plan.stride).view(out);
      run('argmax');
    },

    matmul(a, b, out, { alpha, beta }) {
      const temporaries: View[] = [];
      try {
        let plan = gemmPlan(a, b, out);
        while (typeof plan === 'string') {
          if (plan === 'copy-a') temporaries.push((a = contiguousCopy(a)));
          else temporaries.push((b = contiguousCopy(b)));
          plan = gemmPlan(a, b, out);
        }
        const p = args().num({ f32: 0, bf16: 1, f16: 2, i32: 3, i64: 4, u8: 5, f64: 6 }[out.dtype]);
        p.num(elementPtr(a)).num(elementPtr(b)).num(elementPtr(out));
        p.num(plan.M).num(plan.N).num(plan.K).flag(plan.transA).num(plan.lda).flag(plan.transB).num(plan.ldb).num(plan.ldc);
        p.num(alpha).num(beta).num(plan.levels.length);
        for (const l of plan.levels) p.num(l.size).num(l.strideA).num(l.strideB).num(l.strideC);
        run('matmul');
      } finally {
        for (const t of temporaries) release(t.storage);
      }
    },

    indexSelect(x, axis, index_, out) {
      args().view(x).num(axis).view(index_).view(out);
      run('indexSelect');
    },
    indexAdd(out, axis, index_, src) {
      args().view(out).num(axis).view(index_).view(src);
      run('indexAdd');
    },
    gather(x, axis, index_, out) {
      args().view(x).num(axis).view(index_).view(out);
      run('gather');
    },
    scatterAdd(out, axis, index_, src) {
      args().view(out).num(axis).view(index_).view(src);
      run('scatterAdd');
    },

    softmax(x, out, { scale, causal }) {
      args().view(x).view(out).num(scale).flag(causal);
      run('softmax');
    },
    softmaxGrad(y, dy, out, { scale }) {
      args().view(y).view(dy).view(out).num(scale);
      run('softmaxGrad');
    },
    logSoftmax(x, out) {
      args().view(x).view(out);
      run('logSoftmax');
    },
    logSoftmaxGrad(y, dy, out) {
      args().view(y).view(dy).view(out);
      run('logSoftmaxGrad');
    },
    rmsNorm(x, weight, eps, out, rstd) {
      args().view(x).viewOrNull(weight).num(eps).view(out).view(rstd);
      run('rmsNorm');
    },
    rmsNormGrad(x, weight, rstd, dy, dx, dweight) {
      args().view(x).viewOrNull(weight).view(rstd).view(dy).view(dx).viewOrNull(dweight);
      run('rmsNormGrad');
    },
    layerNorm(x, weight, bias, eps, out, mean, rstd) {
      args().view(x).viewOrNull(weight).viewOrNull(bias).num(eps).view(out).view(mean).view(rstd);
      run('layerNorm');
    },
    layerNormGrad(x, weight, mean, rstd, dy, dx, dweight, dbias) {
      args().view(x).viewOrNull(weight).view(mean).view(rstd).view(dy).view(dx).viewOrNull(dweight).viewOrNull(dbias);
      run('layerNormGrad');
    },
    rope(x, positions, invFreq, out, { interleaved, inverse, scale }) {
      args().view(x).view(positions).view(invFreq).view(out).flag(interleaved).flag(inverse).num(scale);
      run('rope');
    },
    attention(q, k, v, out, lse, options) {
      const p = args().view(q).view(k).view(v).view(out).view(lse);
      attentionTail(p, options);
      run('attention');
    },
    attentionGrad(q, k, v, out, lse, dout, dq, dk, dv, options) {
      const p = args().view(q).view(k).view(v).view(out).view(lse).view(dout).view(dq).view(dk).view(dv);
      attentionTail(p, options);
      run('attentionGrad');
    },
    crossEntropy(logits, targets, losses, lse, { ignoreIndex, labelSmoothing }) {
      args().view(logits).view(targets).view(losses).view(lse).num(ignoreIndex).num(labelSmoothing);
      run('crossEntropy');
    },
    crossEntropyGrad(logits, targets, lse, dlosses, dlogits, { ignoreIndex, labelSmoothing }) {
      args().view(logits).view(targets).view(lse).view(dlosses).view(dlogits).num(ignoreIndex).num(labelSmoothing);
      run('crossEntropyGrad');
    },

    adamw(param, grad, m, v, master, { lr, beta1, beta2, eps, weightDecay, step }) {
      args().view(param).view(grad).view(m).view(v).viewOrNull(master).num(lr).num(beta1).num(beta2).num(eps).num(weightDecay).num(step);
      run('adamw');
    },

    nf4Quantize(w, into) {
      // Quantizing happens once per weight at load time; it runs on the host with the CPU
      // backend's kernel (bit-identical to the reference), then the parts are uploaded.
      const host = hostView(w.dtype, downloadSync(w), w.shape);
      const parts = {
        codes: hostView('u8', new Uint8Array(numel(into.codes.shape)), into.codes.shape),
        absmaxCodes: hostView('u8', new Uint8Array(numel(into.absmaxCodes.shape)), into.absmaxCodes.shape),
        absmaxScales: hostView('f32', new Float32Array(numel(into.absmaxScales.shape)), into.absmaxScales.shape),
        absmaxOffset: 0,
      };
      const quant = isNativeAddonAvailable() ? cpuQuant : referenceQuant;
      const offset = quant.nf4Quantize(host, parts);
      for (const key of ['codes', 'absmaxCodes', 'absmaxScales'] as const) {
        const target = into[key];
        backend.upload(target.storage, parts[key].storage.handle as HostArray, target.offset);
      }
      return offset;
    },
    nf4Dequantize(weight, out) {
      args();
      nf4Parts(weight).view(out);
      run('nf4Dequantize');
    },
    nf4Matmul(x, weight, out, { alpha, beta, transposeW }) {
      const xCols = x.shape[x.shape.length - 1] ?? 1;
      const outCols = out.shape[out.shape.length - 1] ?? 1;
      const [N, K] = transposeW ? [outCols, xCols] : [xCols, outCols];
      args().view(x);
      nf4Parts(weight).view(out).num(N).num(K).num(alpha).num(beta).flag(transposeW);
      run('nf4Matmul');
    },
  };
  return backend;
}
