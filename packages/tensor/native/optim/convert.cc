// Bulk f32 <-> storage dtype conversion for the optim area (NF4 operands and results).
#include <cstring>

#include "optim/simd.h"

namespace lmflow {
namespace optim {
namespace {

#if defined(__x86_64__)
LMFLOW_AVX512 int64_t load_avx512(const void* src, DType dtype, int64_t i0, int64_t n, float* dst) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(dst + i, load16(src, dtype, i0 + i));
  return i;
}

LMFLOW_AVX512 int64_t store_avx512(const float* src, void* dst, DType dtype, int64_t i0, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) store16(dst, dtype, i0 + i, _mm512_loadu_ps(src + i));
  return i;
}

LMFLOW_AVX2 int64_t load_avx2(const void* src, DType dtype, int64_t i0, int64_t n, float* dst) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, load8(src, dtype, i0 + i));
  return i;
}

LMFLOW_AVX2 int64_t store_avx2(const float* src, void* dst, DType dtype, int64_t i0, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) store8(dst, dtype, i0 + i, _mm256_loadu_ps(src + i));
  return i;
}
#endif

}  // namespace

void load_f32(const void* src, DType dtype, int64_t i0, int64_t n, float* dst) {
  if (dtype == DType::kF32) {
    std::memcpy(dst, static_cast<const float*>(src) + i0, n * sizeof(float));
    return;
  }
  int64_t i = 0;
#if defined(__x86_64__)
  if (simd_level() == SimdLevel::kAvx512) i = load_avx512(src, dtype, i0, n, dst);
  else if (simd_level() == SimdLevel::kAvx2) i = load_avx2(src, dtype, i0, n, dst);
#endif
  for (; i < n; ++i) dst[i] = load_one(src, dtype, i0 + i);
}

void store_f32(const float* src, void* dst, DType dtype, int64_t i0, int64_t n) {
  if (dtype == DType::kF32) {
    std::memcpy(static_cast<float*>(dst) + i0, src, n * sizeof(float));
    return;
  }
  int64_t i = 0;
#if defined(__x86_64__)
  if (simd_level() == SimdLevel::kAvx512) i = store_avx512(src, dst, dtype, i0, n);
  else if (simd_level() == SimdLevel::kAvx2) i = store_avx2(src, dst, dtype, i0, n);
#endif
  for (; i < n; ++i) store_one(dst, dtype, i0 + i, src[i]);
}

}  // namespace optim
}  // namespace lmflow
