// Element loads and stores for the elementwise kernels, written branch-free so that GCC
// vectorizes loops over them. Every conversion gives the same bits as native/common/dtype.h
// and the reference backend (src/dtype.ts):
// - bf16/f16 round to nearest even from the f32 value (a double is rounded to f32 first,
//   as the reference's Float32Array scratch does);
// - float to integer truncates toward zero and wraps modulo 2^bits, as typed arrays do
//   (NaN and infinities give 0).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "common/dtype.h"
#include "simd.h"

namespace lmflow {
namespace ew {

template <typename To, typename From>
LMFLOW_INLINE To bit_cast(From from) {
  static_assert(sizeof(To) == sizeof(From), "bit_cast needs equal sizes");
  To to;
  std::memcpy(&to, &from, sizeof(To));
  return to;
}

LMFLOW_INLINE float bf16_load(uint16_t h) { return bit_cast<float>(static_cast<uint32_t>(h) << 16); }

LMFLOW_INLINE uint16_t bf16_store(float f) {
  uint32_t bits = bit_cast<uint32_t>(f);
  uint32_t rounded = (bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16;
  uint32_t nan = (bits >> 16) | 0x40u;
  return static_cast<uint16_t>((bits & 0x7fffffffu) > 0x7f800000u ? nan : rounded);
}

// Shifting the 15 exponent+mantissa bits into f32 position and multiplying by 2^112 rebiases
// normal and subnormal halves exactly; exponent 31 (inf/NaN) is patched afterwards.
LMFLOW_INLINE float f16_load(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t em = h & 0x7fffu;
  uint32_t bits = bit_cast<uint32_t>(bit_cast<float>(em << 13) * 0x1p112f);
  bits = em >= 0x7c00u ? (0x7f800000u | ((em & 0x3ffu) << 13)) : bits;
  return bit_cast<float>(bits | sign);
}

// Normal results round the mantissa to nearest even with integer arithmetic; subnormal ones
// let an f32 addition of 0.5 (whose ulp is 2^-24, the f16 subnormal unit) do the rounding.
LMFLOW_INLINE uint16_t f16_store(float f) {
  uint32_t bits = bit_cast<uint32_t>(f);
  uint32_t sign = (bits >> 16) & 0x8000u;
  uint32_t abs = bits & 0x7fffffffu;
  uint32_t normal = (abs + 0xfffu + ((abs >> 13) & 1u) - 0x38000000u) >> 13;
  uint32_t subnormal = bit_cast<uint32_t>(bit_cast<float>(abs) + 0.5f) - 0x3f000000u;
  uint32_t r = abs < 0x38800000u ? subnormal : normal;
  r = abs >= 0x477ff000u ? 0x7c00u : r;
  r = abs > 0x7f800000u ? 0x7e00u : r;
  return static_cast<uint16_t>(sign | r);
}

// Typed-array semantics of storing a double into an integer element (ToInt32 and friends).
inline int64_t wrap_to_int(double d, double modulus, double half) {
  if (!std::isfinite(d)) return 0;
  double t = std::trunc(d);
  if (t >= -half && t < half) return static_cast<int64_t>(t);
  double m = std::fmod(t, modulus);
  if (m >= half) m -= modulus;
  if (m < -half) m += modulus;
  return static_cast<int64_t>(m);
}

LMFLOW_INLINE int32_t to_i32(double d) {
  // Fast path first: the common case is an in-range value.
  if (d > -2147483649.0 && d < 2147483648.0) return static_cast<int32_t>(d);
  return static_cast<int32_t>(static_cast<uint32_t>(wrap_to_int(d, 4294967296.0, 2147483648.0)));
}

LMFLOW_INLINE int64_t to_i64(double d) {
  if (d > -9223372036854775808.0 && d < 9223372036854775808.0) return static_cast<int64_t>(d);
  return wrap_to_int(d, 18446744073709551616.0, 9223372036854775808.0);
}

LMFLOW_INLINE uint8_t to_u8(double d) {
  if (d > -1.0 && d < 256.0) return static_cast<uint8_t>(d);
  return static_cast<uint8_t>(wrap_to_int(d, 256.0, 128.0));
}

// Per-dtype storage type and conversions to the two compute types: float (the f32 family:
// f32, bf16, f16) and double (f64 and the integers, like the reference backend).
template <DType D>
struct Elem;

template <>
struct Elem<DType::kF32> {
  using T = float;
  static LMFLOW_INLINE float load(T v) { return v; }
  static LMFLOW_INLINE T store(float v) { return v; }
  static LMFLOW_INLINE double load_f64(T v) { return v; }
  static LMFLOW_INLINE T store_f64(double v) { return static_cast<float>(v); }
};

template <>
struct Elem<DType::kBF16> {
  using T = uint16_t;
  static LMFLOW_INLINE float load(T v) { return bf16_load(v); }
  static LMFLOW_INLINE T store(float v) { return bf16_store(v); }
  static LMFLOW_INLINE double load_f64(T v) { return bf16_load(v); }
  static LMFLOW_INLINE T store_f64(double v) { return bf16_store(static_cast<float>(v)); }
};

template <>
struct Elem<DType::kF16> {
  using T = uint16_t;
  static LMFLOW_INLINE float load(T v) { return f16_load(v); }
  static LMFLOW_INLINE T store(float v) { return f16_store(v); }
  static LMFLOW_INLINE double load_f64(T v) { return f16_load(v); }
  static LMFLOW_INLINE T store_f64(double v) { return f16_store(static_cast<float>(v)); }
};

template <>
struct Elem<DType::kF64> {
  using T = double;
  static LMFLOW_INLINE float load(T v) { return static_cast<float>(v); }
  static LMFLOW_INLINE T store(float v) { return v; }
  static LMFLOW_INLINE double load_f64(T v) { return v; }
  static LMFLOW_INLINE T store_f64(double v) { return v; }
};

template <>
struct Elem<DType::kI32> {
  using T = int32_t;
  static LMFLOW_INLINE float load(T v) { return static_cast<float>(static_cast<double>(v)); }
  static LMFLOW_INLINE T store(float v) { return to_i32(v); }
  static LMFLOW_INLINE double load_f64(T v) { return v; }
  static LMFLOW_INLINE T store_f64(double v) { return to_i32(v); }
};

template <>
struct Elem<DType::kI64> {
  using T = int64_t;
  static LMFLOW_INLINE float load(T v) { return static_cast<float>(static_cast<double>(v)); }
  static LMFLOW_INLINE T store(float v) { return to_i64(v); }
  static LMFLOW_INLINE double load_f64(T v) { return static_cast<double>(v); }
  static LMFLOW_INLINE T store_f64(double v) { return to_i64(v); }
};

template <>
struct Elem<DType::kU8> {
  using T = uint8_t;
  static LMFLOW_INLINE float load(T v) { return v; }
  static LMFLOW_INLINE T store(float v) { return to_u8(v); }
  static LMFLOW_INLINE double load_f64(T v) { return v; }
  static LMFLOW_INLINE T store_f64(double v) { return to_u8(v); }
};

// Loads and stores in a compute type C (float or double).
template <DType D, typename C>
LMFLOW_INLINE C load_as(typename Elem<D>::T v) {
  if constexpr (std::is_same_v<C, float>) return Elem<D>::load(v);
  else return Elem<D>::load_f64(v);
}

template <DType D, typename C>
LMFLOW_INLINE typename Elem<D>::T store_from(C v) {
  if constexpr (std::is_same_v<C, float>) return Elem<D>::store(v);
  else return Elem<D>::store_f64(v);
}

// f32, bf16 and f16 compute in f32; everything else in double (as the reference does).
inline bool is_f32_family(DType d) { return d == DType::kF32 || d == DType::kBF16 || d == DType::kF16; }
inline bool is_float_dtype(DType d) { return is_f32_family(d) || d == DType::kF64; }

// Calls fn(std::integral_constant<DType, D>{}) for the runtime dtype d.
template <typename Fn>
inline auto visit_dtype(DType d, Fn&& fn) {
  switch (d) {
    case DType::kF32: return fn(std::integral_constant<DType, DType::kF32>{});
    case DType::kBF16: return fn(std::integral_constant<DType, DType::kBF16>{});
    case DType::kF16: return fn(std::integral_constant<DType, DType::kF16>{});
    case DType::kI32: return fn(std::integral_constant<DType, DType::kI32>{});
    case DType::kI64: return fn(std::integral_constant<DType, DType::kI64>{});
    case DType::kU8: return fn(std::integral_constant<DType, DType::kU8>{});
    case DType::kF64: break;
  }
  return fn(std::integral_constant<DType, DType::kF64>{});
}

}  // namespace ew
}  // namespace lmflow
