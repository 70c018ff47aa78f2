// The tiles of nf4-tiles.h. Accumulators stay in registers for the whole reduction: 16 zmm for
// the 4x4 dot-product tile (AVX-512), 12 for the 6x32 outer-product tile.
#include "optim/nf4-tiles.h"

#include <algorithm>

#include "optim/simd.h"

namespace lmflow {
namespace optim {
namespace {

// ---- dot-product tiles: tile[i][j] = dot(x[i], w[j]) over K ---------------------------------

void dot_tile_scalar(const float* const* x, const float* const* w, int64_t K, float* tile) {
  for (int i = 0; i < kDotRows; ++i) {
    for (int j = 0; j < kDotCols; ++j) {
      float sum = 0;
      for (int64_t k = 0; k < K; ++k) sum += x[i][k] * w[j][k];
      tile[i * kDotCols + j] = sum;
    }
  }
}

#if defined(__x86_64__)
LMFLOW_AVX512 void dot_tile_avx512(const float* const* x, const float* const* w, int64_t K, float* tile) {
  __m512 acc[kDotRows][kDotCols];
  for (int i = 0; i < kDotRows; ++i)
    for (int j = 0; j < kDotCols; ++j) acc[i][j] = _mm512_setzero_ps();
  int64_t k = 0;
  for (; k + 16 <= K; k += 16) {
    __m512 wv[kDotCols];
    for (int j = 0; j < kDotCols; ++j) wv[j] = _mm512_loadu_ps(w[j] + k);
    for (int i = 0; i < kDotRows; ++i) {
      const __m512 xv = _mm512_loadu_ps(x[i] + k);
      for (int j = 0; j < kDotCols; ++j) acc[i][j] = _mm512_fmadd_ps(xv, wv[j], acc[i][j]);
    }
  }
  if (k < K) {
    const __mmask16 tail = static_cast<__mmask16>((1u << (K - k)) - 1);
    __m512 wv[kDotCols];
    for (int j = 0; j < kDotCols; ++j) wv[j] = _mm512_maskz_loadu_ps(tail, w[j] + k);
    for (int i = 0; i < kDotRows; ++i) {
      const __m512 xv = _mm512_maskz_loadu_ps(tail, x[i] + k);
      for (int j = 0; j < kDotCols; ++j) acc[i][j] = _mm512_fmadd_ps(xv, wv[j], acc[i][j]);
    }
  }
  for (int i = 0; i < kDotRows; ++i)
    for (int j = 0; j < kDotCols; ++j) tile[i * kDotCols + j] = _mm512_reduce_add_ps(acc[i][j]);
}

LMFLOW_AVX2 inline float hsum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// Two rows of x at a time: 8 accumulators leave registers for the loads (16 ymm in all).
LMFLOW_AVX2 void dot_tile_avx2(const float* const* x, const float* const* w, int64_t K, float* tile) {
  alignas(32) static const int32_t kTailMask[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
  for (int i0 = 0; i0 < kDotRows; i0 += 2) {
    __m256 acc[2][kDotCols];
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < kDotCols; ++j) acc[i][j] = _mm256_setzero_ps();
    int64_t k = 0;
    for (; k + 8 <= K; k += 8) {
      const __m256 x0 = _mm256_loadu_ps(x[i0] + k);
      const __m256 x1 = _mm256_loadu_ps(x[i0 + 1] + k);
      for (int j = 0; j < kDotCols; ++j) {
        const __m256 wv = _mm256_loadu_ps(w[j] + k);
        acc[0][j] = _mm256_fmadd_ps(x0, wv, acc[0][j]);
        acc[1][j] = _mm256_fmadd_ps(x1, wv, acc[1][j]);
      }
    }
    if (k < K) {
      const __m256i tail = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kTailMask + 8 - (K - k)));
      const __m256 x0 = _mm256_maskload_ps(x[i0] + k, tail);
      const __m256 x1 = _mm256_maskload_ps(x[i0 + 1] + k, tail);
      for (int j = 0; j < kDotCols; ++j) {
        const __m256 wv = _mm256_maskload_ps(w[j] + k, tail);
        acc[0][j] = _mm256_fmadd_ps(x0, wv, acc[0][j]);
        acc[1][j] = _mm256_fmadd_ps(x1, wv, acc[1][j]);
      }
    }
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < kDotCols; ++j) tile[(i0 + i) * kDotCols + j] = hsum8(acc[i][j]);
  }
}
#endif

// ---- outer-product tiles: tile[i][0..32) = sum_r x[i][r] * panel[r][0..32) ---------------

void outer_tile_scalar(const float* const* x, const float* panel, int64_t R, float* tile) {
  for (int i = 0; i < kOuterRows; ++i) {
    float row[kColPanel] = {};
    for (int64_t r = 0; r < R; ++r) {
      const float a = x[i][r];
      const float* b = panel + r * kColPanel;
      for (int j = 0; j < kColPanel; ++j) row[j] += a * b[j];
    }
    std::copy(row, row + kColPanel, tile + i * kColPanel);
  }
}

#if defined(__x86_64__)
LMFLOW_AVX512 void outer_tile_avx512(const float* const* x, const float* panel, int64_t R, float* tile) {
  __m512 acc[kOuterRows][2];
  for (int i = 0; i < kOuterRows; ++i) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
  for (int64_t r = 0; r < R; ++r) {
    const __m512 b0 = _mm512_loadu_ps(panel + r * kColPanel);
    const __m512 b1 = _mm512_loadu_ps(panel + r * kColPanel + 16);
    for (int i = 0; i < kOuterRows; ++i) {
      const __m512 a = _mm512_set1_ps(x[i][r]);
      acc[i][0] = _mm512_fmadd_ps(a, b0, acc[i][0]);
      acc[i][1] = _mm512_fmadd_ps(a, b1, acc[i][1]);
    }
  }
  for (int i = 0; i < kOuterRows; ++i) {
    _mm512_storeu_ps(tile + i * kColPanel, acc[i][0]);
    _mm512_storeu_ps(tile + i * kColPanel + 16, acc[i][1]);
  }
}

// 16 columns per pass: 12 accumulators, 2 panel loads and a broadcast fit in 16 ymm.
LMFLOW_AVX2 void outer_tile_avx2(const float* const* x, const float* panel, int64_t R, float* tile) {
  for (int half = 0; half < 2; ++half) {
    const float* p = panel + half * 16;
    __m256 acc[kOuterRows][2];
    for (int i = 0; i < kOuterRows; ++i) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
    for (int64_t r = 0; r < R; ++r) {
      const __m256 b0 = _mm256_loadu_ps(p + r * kColPanel);
      const __m256 b1 = _mm256_loadu_ps(p + r * kColPanel + 8);
      for (int i = 0; i < kOuterRows; ++i) {
        const __m256 a = _mm256_broadcast_ss(x[i] + r);
        acc[i][0] = _mm256_fmadd_ps(a, b0, acc[i][0]);
        acc[i][1] = _mm256_fmadd_ps(a, b1, acc[i][1]);
      }
    }
    for (int i = 0; i < kOuterRows; ++i) {
      _mm256_storeu_ps(tile + i * kColPanel + half * 16, acc[i][0]);
      _mm256_storeu_ps(tile + i * kColPanel + half * 16 + 8, acc[i][1]);
    }
  }
}
#endif

}  // namespace

void dot_tile(SimdLevel level, const float* const* x, const float* const* w, int64_t K, float* tile) {
#if defined(__x86_64__)
  if (level == SimdLevel::kAvx512) return dot_tile_avx512(x, w, K, tile);
  if (level == SimdLevel::kAvx2) return dot_tile_avx2(x, w, K, tile);
#endif
  (void)level;
  dot_tile_scalar(x, w, K, tile);
}

void outer_tile(SimdLevel level, const float* const* x, const float* panel, int64_t R, float* tile) {
#if defined(__x86_64__)
  if (level == SimdLevel::kAvx512) return outer_tile_avx512(x, panel, R, tile);
  if (level == SimdLevel::kAvx2) return outer_tile_avx2(x, panel, R, tile);
#endif
  (void)level;
  outer_tile_scalar(x, panel, R, tile);
}

}  // namespace optim
}  // namespace lmflow
