// Loading and storing f32/bf16/f16 elements as f32, one at a time or a vector at a time, for
// the optim area's kernels (AdamW, NF4). Vector versions carry their own target attribute so
// the rest of the build stays baseline x86-64; callers pick a level with simd_level().
#pragma once

#include <cstdint>

#include "common/cpu-features.h"
#include "common/dtype.h"

#if defined(__x86_64__)
// GCC 12 reports its own _mm512_undefined_* helpers as uninitialised (GCC bug 105593).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#define LMFLOW_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma")))
#define LMFLOW_AVX2 __attribute__((target("avx2,fma,f16c")))
#endif

namespace lmflow {
namespace optim {

inline float load_one(const void* base, DType dtype, int64_t i) {
  switch (dtype) {
    case DType::kBF16: return bf16_to_f32(static_cast<const uint16_t*>(base)[i]);
    case DType::kF16: return f16_to_f32(static_cast<const uint16_t*>(base)[i]);
    default: return static_cast<const float*>(base)[i];
  }
}

inline void store_one(void* base, DType dtype, int64_t i, float value) {
  switch (dtype) {
    case DType::kBF16: static_cast<uint16_t*>(base)[i] = f32_to_bf16(value); return;
    case DType::kF16: static_cast<uint16_t*>(base)[i] = f32_to_f16(value); return;
    default: static_cast<float*>(base)[i] = value; return;
  }
}

#if defined(__x86_64__)

// 16 elements starting at i.
LMFLOW_AVX512 inline __m512 load16(const void* base, DType dtype, int64_t i) {
  if (dtype == DType::kF32) return _mm512_loadu_ps(static_cast<const float*>(base) + i);
  __m256i half = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(static_cast<const uint16_t*>(base) + i));
  if (dtype == DType::kF16) return _mm512_cvtph_ps(half);
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(half), 16));
}

// Round to nearest even like f32_to_bf16 (NaN stays a quiet NaN).
LMFLOW_AVX512 inline __m256i f32_to_bf16_x16(__m512 v) {
  __m512i bits = _mm512_castps_si512(v);
  __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(bits, 16), _mm512_set1_epi32(1));
  __m512i rounded = _mm512_srli_epi32(_mm512_add_epi32(bits, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff))), 16);
  __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
  __m512i quiet = _mm512_or_si512(_mm512_srli_epi32(bits, 16), _mm512_set1_epi32(0x40));
  return _mm512_cvtepi32_epi16(_mm512_mask_mov_epi32(rounded, nan, quiet));
}

LMFLOW_AVX512 inline void store16(void* base, DType dtype, int64_t i, __m512 v) {
  if (dtype == DType::kF32) {
    _mm512_storeu_ps(static_cast<float*>(base) + i, v);
    return;
  }
  __m256i half = dtype == DType::kF16 ? _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC) : f32_to_bf16_x16(v);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(static_cast<uint16_t*>(base) + i), half);
}

// 8 elements starting at i.
LMFLOW_AVX2 inline __m256 load8(const void* base, DType dtype, int64_t i) {
  if (dtype == DType::kF32) return _mm256_loadu_ps(static_cast<const float*>(base) + i);
  __m128i half = _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(base) + i));
  if (dtype == DType::kF16) return _mm256_cvtph_ps(half);
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(half), 16));
}

LMFLOW_AVX2 inline __m128i f32_to_bf16_x8(__m256 v) {
  __m256i bits = _mm256_castps_si256(v);
  __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(bits, 16), _mm256_set1_epi32(1));
  __m256i rounded = _mm256_srli_epi32(_mm256_add_epi32(bits, _mm256_add_epi32(lsb, _mm256_set1_epi32(0x7fff))), 16);
  __m256i nan = _mm256_castps_si256(_mm256_cmp_ps(v, v, _CMP_UNORD_Q));
  __m256i quiet = _mm256_or_si256(_mm256_srli_epi32(bits, 16), _mm256_set1_epi32(0x40));
  __m256i r = _mm256_blendv_epi8(rounded, quiet, nan);
  // Every lane is below 0x10000, so the unsigned saturating pack only narrows.
  return _mm_packus_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
}

LMFLOW_AVX2 inline void store8(void* base, DType dtype, int64_t i, __m256 v) {
  if (dtype == DType::kF32) {
    _mm256_storeu_ps(static_cast<float*>(base) + i, v);
    return;
  }
  __m128i half = dtype == DType::kF16 ? _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC) : f32_to_bf16_x8(v);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(static_cast<uint16_t*>(base) + i), half);
}

#endif  // __x86_64__

// dst[0, n) = src[i0, i0 + n) converted to f32.
void load_f32(const void* src, DType dtype, int64_t i0, int64_t n, float* dst);
// dst[i0, i0 + n) = src[0, n), rounded to dtype.
void store_f32(const float* src, void* dst, DType dtype, int64_t i0, int64_t n);

}  // namespace optim
}  // namespace lmflow
