/** Creating tensors: from data, filled, ranges, random. */
import { Tensor, emptyOn } from '../tensor.js';
import { hostArray, isDType, isFloat, itemSize, writeElement, type DType, type HostArray } from '../dtype.js';
import { assertValidShape, contiguousStrides, formatShape, numel, type Shape } from '../shape.js';
import { getBackend } from '../device.js';
import { defaultGenerator, type Generator } from '../random.js';

export interface CreateOptions {
  /** Default f32 (i64 for bigint data). */
  dtype?: DType;
  /** Default: defaultDevice(). */
  device?: string;
  requiresGrad?: boolean;
}

export interface RandomOptions extends CreateOptions {
  /** Default: the default generator (see manualSeed). */
  generator?: Generator;
}

type NestedNumbers = number | bigint | boolean | readonly NestedNumbers[];

function finish(t: Tensor, options: CreateOptions): Tensor {
  if (options.requiresGrad) t.requiresGrad = true;
  return t;
}

function dtypeOf(op: string, options: CreateOptions, fallback: DType = 'f32'): DType {
  const dtype = options.dtype ?? fallback;
  if (!isDType(dtype)) throw new Error(`${op}: unknown dtype "${String(dtype)}"; expected f32, bf16, f16, f64, i32, i64 or u8`);
  return dtype;
}

/** A tensor on `device` filled from host values (nested arrays, a flat array with a shape, or a typed array). */
export function tensor(data: NestedNumbers | ArrayLike<number> | HostArray, options: CreateOptions & { shape?: Shape } = {}): Tensor {
  let flat: ArrayLike<number | bigint | boolean>;
  let shape: number[];
  if (ArrayBuffer.isView(data)) {
    flat = data as ArrayLike<number>;
    shape = options.shape ? [...options.shape] : [flat.length];
  } else {
    shape = [];
    const values: (number | bigint | boolean)[] = [];
    inferNested(data as NestedNumbers, 0, shape, values);
    flat = values;
    if (options.shape) {
      if (numel(options.shape) !== values.length) {
        throw new Error(`tensor: ${values.length} values do not fill shape ${formatShape(options.shape)}`);
      }
      shape = [...options.shape];
    }
  }
  assertValidShape('tensor', shape);
  if (numel(shape) !== flat.length) throw new Error(`tensor: ${flat.length} values do not fill shape ${formatShape(shape)}`);
  const firstBig = typeof flat[0] === 'bigint' || data instanceof BigInt64Array;
  const dtype = dtypeOf('tensor', options, firstBig ? 'i64' : 'f32');
  const host = hostArray(dtype, new ArrayBuffer(Math.max(1, flat.length * itemSize(dtype))), flat.length);
  if (dtype === 'i64') {
    for (let i = 0; i < flat.length; i++) (host as BigInt64Array)[i] = BigInt(flat[i] as number | bigint);
  } else if (sameLayout(data, dtype)) {
    host.set(data as never);
  } else {
    for (let i = 0; i < flat.length; i++) writeElement(dtype, host, i, Number(flat[i]));
  }
  const backend = getBackend(options.device);
  const out = emptyOn(backend, shape, dtype);
  backend.upload(out.storage, host, 0);
  return finish(out, options);
}

// A typed array already in the dtype's storage format can be copied as is.
function sameLayout(data: unknown, dtype: DType): boolean {
  return (
    (dtype === 'f32' && data instanceof Float32Array) ||
    (dtype === 'f64' && data instanceof Float64Array) ||
    (dtype === 'i32' && data instanceof Int32Array) ||
    (dtype === 'u8' && data instanceof Uint8Array)
  );
}

function inferNested(data: NestedNumbers, depth: number, shape: number[], out: (number | bigint | boolean)[]): void {
  if (Array.isArray(data)) {
    if (shape.length === depth) shape.push(data.length);
    else if (shape[depth] !== data.length) throw new Error(`tensor: ragged nested array: expected ${shape[depth]} entries at depth ${depth}, got ${data.length}`);
    for (const d of data) inferNested(d, depth + 1, shape, out);
    return;
  }
  if (shape.length > depth) throw new Error(`tensor: ragged nested array: a number where an array of ${shape[depth]} was expected`);
  if (typeof data !== 'number' && typeof data !== 'bigint' && typeof data !== 'boolean') {
    throw new Error(`tensor: expected numbers, got ${typeof data}`);
  }
  out.push(data);
}

/**
 * A tensor over a host typed array: zero-copy on host devices ('cpu', 'reference') when the
 * array is the dtype's storage type (Float32Array for f32, Uint16Array holding bf16/f16 bits,
 * ...), a copy otherwise. The array must not change while the tensor lives. Used to load
 * weights straight from a file buffer.
 */
export function fromHostArray(data: HostArray, options: CreateOptions & { shape?: Shape } = {}): Tensor {
  const dtype = dtypeOf('fromHostArray', options, data instanceof BigInt64Array ? 'i64' : data instanceof Float64Array ? 'f64' : 'f32');
  const shape = options.shape ? [...options.shape] : [data.length];
  assertValidShape('fromHostArray', shape);
  if (numel(shape) !== data.length) throw new Error(`fromHostArray: ${data.length} elements do not fill shape ${formatShape(shape)}`);
  // Other array types hold numbers to convert (a Float32Array into bf16, ...).
  if (!storageTypeMatches(data, dtype)) return tensor(data, { ...options, dtype, shape });
  const backend = getBackend(options.device);
  if (backend.wrapHost) {
    return finish(new Tensor(backend.wrapHost(dtype, data), dtype, shape, contiguousStrides(shape), 0), options);
  }
  const out = emptyOn(backend, shape, dtype);
  backend.upload(out.storage, data, 0);
  return finish(out, options);
}

function storageTypeMatches(data: HostArray, dtype: DType): boolean {
  switch (dtype) {
    case 'f32':
      return data instanceof Float32Array;
    case 'f64':
      return data instanceof Float64Array;
    case 'bf16':
    case 'f16':
      return data instanceof Uint16Array;
    case 'i32':
      return data instanceof Int32Array;
    case 'i64':
      return data instanceof BigInt64Array;
    case 'u8':
      return data instanceof Uint8Array;
  }
}

/** Uninitialised memory (contents unspecified). */
export function empty(shape: Shape, options: CreateOptions = {}): Tensor {
  assertValidShape('empty', shape);
  return finish(emptyOn(getBackend(options.device), shape, dtypeOf('empty', options)), options);
}

export function full(shape: Shape, value: number, options: CreateOptions = {}): Tensor {
  assertValidShape('full', shape);
  const out = emptyOn(getBackend(options.device), shape, dtypeOf('full', options));
  out.backend.fill(out, value);
  return finish(out, options);
}

export function zeros(shape: Shape, options: CreateOptions = {}): Tensor {
  return full(shape, 0, options);
}

export function ones(shape: Shape, options: CreateOptions = {}): Tensor {
  return full(shape, 1, options);
}

function likeOptions(t: Tensor, options: CreateOptions): CreateOptions {
  return { dtype: t.dtype, device: t.device, ...options };
}

export function zerosLike(t: Tensor, options: CreateOptions = {}): Tensor {
  return zeros(t.shape, likeOptions(t, options));
}

export function onesLike(t: Tensor, options: CreateOptions = {}): Tensor {
  return ones(t.shape, likeOptions(t, options));
}

export function fullLike(t: Tensor, value: number, options: CreateOptions = {}): Tensor {
  return full(t.shape, value, likeOptions(t, options));
}

/** start, start+step, ... below end (one argument: 0 .. end-1). Default dtype i32 for integers. */
export function arange(start: number, end?: number, step = 1, options: CreateOptions = {}): Tensor {
  if (end === undefined) [start, end] = [0, start];
  if (step === 0) throw new Error('arange: step must not be 0');
  const n = Math.max(0, Math.ceil((end - start) / step));
  const integral = [start, end, step].every(Number.isInteger);
  const dtype = dtypeOf('arange', options, integral ? 'i32' : 'f32');
  const host = hostArray(dtype, new ArrayBuffer(Math.max(1, n * itemSize(dtype))), n);
  for (let i = 0; i < n; i++) writeElement(dtype, host, i, start + i * step);
  return tensor(host, { ...options, dtype, shape: [n] });
}

function randomTensor(op: string, shape: Shape, kind: 'uniform' | 'normal' | 'bernoulli', a: number, b: number, options: RandomOptions): Tensor {
  assertValidShape(op, shape);
  const dtype = dtypeOf(op, options);
  if (kind !== 'bernoulli' && !isFloat(dtype)) throw new Error(`${op}: dtype must be floating, got ${dtype}`);
  const out = emptyOn(getBackend(options.device), shape, dtype);
  const n = numel(shape);
  // normal draws two uniforms per element (Box-Muller).
  const { seed, offset } = (options.generator ?? defaultGenerator).take(kind === 'normal' ? 2 * n : n);
  out.backend.random(out, kind, a, b, seed, offset);
  return finish(out, options);
}

/** Uniform in [low, high). */
export function rand(shape: Shape, options: RandomOptions & { low?: number; high?: number } = {}): Tensor {
  return randomTensor('rand', shape, 'uniform', options.low ?? 0, options.high ?? 1, options);
}

/** Normal with the given mean and std (default standard normal). */
export function randn(shape: Shape, options: RandomOptions & { mean?: number; std?: number } = {}): Tensor {
  return randomTensor('randn', shape, 'normal', options.mean ?? 0, options.std ?? 1, options);
}

/** 1 with probability p, else 0. */
export function bernoulli(shape: Shape, p: number, options: RandomOptions = {}): Tensor {
  if (!(p >= 0 && p <= 1)) throw new Error(`bernoulli: p must be in [0, 1], got ${p}`);
  return randomTensor('bernoulli', shape, 'bernoulli', p, 0, options);
}
