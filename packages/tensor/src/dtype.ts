/**
 * Element types. Floating types compute in f32 on the native backends (bf16 and f16 are
 * storage formats) and in float64 on the reference backend. f64 exists for float64 gradient
 * checks on the reference backend; native backends only store and convert it.
 */
export type DType = 'f32' | 'bf16' | 'f16' | 'i32' | 'i64' | 'u8' | 'f64';

export const DTYPES: readonly DType[] = ['f32', 'bf16', 'f16', 'i32', 'i64', 'u8', 'f64'];

/** The typed array that holds each dtype on the host. bf16 and f16 are raw 16-bit patterns. */
export type HostArray = Float32Array | Float64Array | Uint16Array | Int32Array | BigInt64Array | Uint8Array;

export function isDType(value: unknown): value is DType {
  return typeof value === 'string' && (DTYPES as readonly string[]).includes(value);
}

export function itemSize(dtype: DType): number {
  switch (dtype) {
    case 'f32':
    case 'i32':
      return 4;
    case 'bf16':
    case 'f16':
      return 2;
    case 'i64':
    case 'f64':
      return 8;
    case 'u8':
      return 1;
  }
}

export function isFloat(dtype: DType): boolean {
  return dtype === 'f32' || dtype === 'bf16' || dtype === 'f16' || dtype === 'f64';
}

export function isInteger(dtype: DType): boolean {
  return !isFloat(dtype);
}

export function hostArray(dtype: DType, buffer: ArrayBuffer, length: number): HostArray {
  switch (dtype) {
    case 'f32':
      return new Float32Array(buffer, 0, length);
    case 'bf16':
    case 'f16':
      return new Uint16Array(buffer, 0, length);
    case 'i32':
      return new Int32Array(buffer, 0, length);
    case 'i64':
      return new BigInt64Array(buffer, 0, length);
    case 'u8':
      return new Uint8Array(buffer, 0, length);
    case 'f64':
      return new Float64Array(buffer, 0, length);
  }
}

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

export function bf16ToF32(bits: number): number {
  u32Scratch[0] = bits << 16;
  return f32Scratch[0]!;
}

/** Round to nearest even, as PyTorch does; NaN stays NaN. */
export function f32ToBf16(value: number): number {
  f32Scratch[0] = value;
  const bits = u32Scratch[0]!;
  if ((bits & 0x7fffffff) > 0x7f800000) return ((bits >>> 16) | 0x40) & 0xffff;
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

export function f16ToF32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >> 10) & 0x1f;
  const man = bits & 0x3ff;
  if (exp === 0) return sign * man * 2 ** -24;
  if (exp === 31) return man ? NaN : sign * Infinity;
  return sign * (1 + man / 1024) * 2 ** (exp - 15);
}

/** IEEE half, round to nearest even (from the f32 value, as kernels see it); same bits as native. */
export function f32ToF16(value: number): number {
  f32Scratch[0] = value;
  const bits = u32Scratch[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const abs = bits & 0x7fffffff;
  if (abs > 0x7f800000) return sign | 0x7e00;
  if (abs >= 0x477ff000) return sign | 0x7c00;
  if (abs < 0x38800000) {
    // Subnormal or zero: units of 2^-24, rounded to nearest even.
    return sign | roundHalfEven(Math.abs(f32Scratch[0]!) * 2 ** 24);
  }
  const rounded = abs + 0xfff + ((abs >>> 13) & 1);
  return sign | ((rounded - 0x38000000) >>> 13);
}

function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** Reads element i of a host array as a JS number (bf16/f16 decoded, i64 as a number). */
export function readElement(dtype: DType, array: HostArray, i: number): number {
  switch (dtype) {
    case 'bf16':
      return bf16ToF32((array as Uint16Array)[i]!);
    case 'f16':
      return f16ToF32((array as Uint16Array)[i]!);
    case 'i64':
      return Number((array as BigInt64Array)[i]!);
    default:
      return (array as Float32Array)[i]!;
  }
}

/** Writes a JS number into element i, rounding as the dtype requires. */
export function writeElement(dtype: DType, array: HostArray, i: number, value: number): void {
  switch (dtype) {
    case 'bf16':
      (array as Uint16Array)[i] = f32ToBf16(value);
      return;
    case 'f16':
      (array as Uint16Array)[i] = f32ToF16(value);
      return;
    case 'i64':
      (array as BigInt64Array)[i] = BigInt(Math.trunc(value));
      return;
    case 'i32':
      (array as Int32Array)[i] = Math.trunc(value);
      return;
    case 'u8':
      (array as Uint8Array)[i] = Math.trunc(value);
      return;
    case 'f32':
    case 'f64':
      (array as Float32Array)[i] = value;
      return;
  }
}
