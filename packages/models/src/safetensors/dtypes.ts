/**
 * safetensors element types and how they map onto @lmflow/tensor's dtypes. Every dtype of
 * the format is known here (so a file's byte lengths can be checked whatever it holds); those
 * the tensor package has no type for are rejected when a tensor of that dtype is loaded.
 */
import type { DType } from '@lmflow/tensor';

/** Bytes per element of every safetensors dtype (the format's spelling). */
export const SAFETENSORS_DTYPE_SIZES: Readonly<Record<string, number>> = Object.freeze({
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  F8_E8M0: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  F64: 8,
  I64: 8,
  U64: 8,
});

export type SafetensorsDType = keyof typeof SAFETENSORS_DTYPE_SIZES;

// BOOL is stored one byte per value, 0 or 1, so it reads as u8 (and writes back as U8).
const TO_TENSOR: Readonly<Record<string, DType>> = Object.freeze({
  F32: 'f32',
  BF16: 'bf16',
  F16: 'f16',
  F64: 'f64',
  I64: 'i64',
  I32: 'i32',
  U8: 'u8',
  BOOL: 'u8',
});

const FROM_TENSOR: Readonly<Record<DType, string>> = Object.freeze({
  f32: 'F32',
  bf16: 'BF16',
  f16: 'F16',
  f64: 'F64',
  i64: 'I64',
  i32: 'I32',
  u8: 'U8',
});

export function isSafetensorsDType(value: unknown): value is SafetensorsDType {
  return typeof value === 'string' && Object.hasOwn(SAFETENSORS_DTYPE_SIZES, value);
}

/** The tensor dtype a safetensors dtype loads as, or null when @lmflow/tensor has none. */
export function tensorDTypeOf(dtype: string): DType | null {
  return TO_TENSOR[dtype] ?? null;
}

/** The safetensors spelling of a tensor dtype. */
export function safetensorsDTypeOf(dtype: DType): string {
  return FROM_TENSOR[dtype];
}

/** The safetensors dtypes that load, for error messages. */
export const LOADABLE_SAFETENSORS_DTYPES: readonly string[] = Object.freeze(Object.keys(TO_TENSOR));
