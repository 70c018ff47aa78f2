// AVX2 + FMA GEMM level: a 6 x 16 micro-kernel (12 ymm accumulators, 2 vector loads of packed
// B and 6 broadcasts of packed A per k), packing with 8 x 8 in-register transposes and F16C
// conversions, and the skinny (decode) blocks.
#if defined(__x86_64__)

#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "gemm/gemm-kernels.h"
#include "gemm/gemm-skinny.h"

#define LMFLOW_AVX2 __attribute__((target("avx2,fma,f16c")))

namespace lmflow {
namespace gemm_detail {
namespace {

constexpr int kMr = 6;
constexpr int kNr = 16;

template <DType DT>
inline const char* element(const void* base, int64_t i) {
  return static_cast<const char*>(base) + i * (DT == DType::kF32 ? 4 : 2);
}

template <DType DT>
LMFLOW_AVX2 inline __m256 load8(const void* p) {
  if constexpr (DT == DType::kBF16) {
    __m256i wide = _mm256_cvtepu16_epi32(_mm_loadu_si128(static_cast<const __m128i*>(p)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16));
  } else if constexpr (DT == DType::kF16) {
    return _mm256_cvtph_ps(_mm_loadu_si128(static_cast<const __m128i*>(p)));
  } else {
    return _mm256_loadu_ps(static_cast<const float*>(p));
  }
}

// The first n (0..8) elements, the rest zero. AVX2 has no 16-bit masked load: go through a
// small zeroed buffer, which never reads past the n elements.
template <DType DT>
LMFLOW_AVX2 inline __m256 load8_partial(const void* p, int64_t n) {
  if (n >= 8) return load8<DT>(p);
  alignas(32) unsigned char buffer[32] = {};
  std::memcpy(buffer, p, static_cast<size_t>(std::max<int64_t>(n, 0)) * (DT == DType::kF32 ? 4 : 2));
  return load8<DT>(buffer);
}

LMFLOW_AVX2 inline __m256i lane_mask(int n) {
  alignas(32) static const int32_t ramp[8] = {0, 1, 2, 3, 4, 5, 6, 7};
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_load_si256(reinterpret_cast<const __m256i*>(ramp)));
}

LMFLOW_AVX2 inline void transpose8(__m256 r[8]) {
  __m256 t[8], s[8];
  for (int i = 0; i < 4; ++i) {
    t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  for (int g = 0; g < 2; ++g) {
    s[4 * g + 0] = _mm256_shuffle_ps(t[4 * g], t[4 * g + 2], _MM_SHUFFLE(1, 0, 1, 0));
    s[4 * g + 1] = _mm256_shuffle_ps(t[4 * g], t[4 * g + 2], _MM_SHUFFLE(3, 2, 3, 2));
    s[4 * g + 2] = _mm256_shuffle_ps(t[4 * g + 1], t[4 * g + 3], _MM_SHUFFLE(1, 0, 1, 0));
    s[4 * g + 3] = _mm256_shuffle_ps(t[4 * g + 1], t[4 * g + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int e = 0; e < 4; ++e) {
    r[e] = _mm256_permute2f128_ps(s[e], s[4 + e], 0x20);
    r[4 + e] = _mm256_permute2f128_ps(s[e], s[4 + e], 0x31);
  }
}

// `rows` (<= 8) memory rows of kc elements, written transposed: dst[k * dst_stride + i] for
// the lanes of store_mask (rows past `rows` are zero).
template <DType DT>
LMFLOW_AVX2 void transpose_rows(const char* const* rows_at, int rows, int64_t kc, float* dst, int64_t dst_stride,
                                __m256i store_mask) {
  __m256 r[8];
  for (int64_t k = 0; k < kc; k += 8) {
    const int64_t n = std::min<int64_t>(8, kc - k);
    for (int i = 0; i < 8; ++i) {
      r[i] = i >= rows ? _mm256_setzero_ps()
                       : n == 8 ? load8<DT>(element<DT>(rows_at[i], k)) : load8_partial<DT>(element<DT>(rows_at[i], k), n);
    }
    transpose8(r);
    for (int t = 0; t < n; ++t) _mm256_maskstore_ps(dst + (k + t) * dst_stride, store_mask, r[t]);
  }
}

template <DType DT>
LMFLOW_AVX2 void pack_a_t(const GemmOperand& a, int64_t m0, int64_t k0, int64_t mc, int64_t kc, float* dst) {
  const __m256i sliver = lane_mask(kMr);
  for (int64_t i0 = 0; i0 < mc; i0 += kMr, dst += kMr * kc) {
    const int rows = static_cast<int>(std::min<int64_t>(kMr, mc - i0));
    if (a.trans) {
      for (int64_t k = 0; k < kc; ++k) {
        __m256 v = load8_partial<DT>(element<DT>(a.data, (k0 + k) * a.ld + m0 + i0), rows);
        _mm256_maskstore_ps(dst + k * kMr, sliver, v);
      }
    } else {
      const char* rows_at[8];
      for (int i = 0; i < rows; ++i) rows_at[i] = element<DT>(a.data, (m0 + i0 + i) * a.ld + k0);
      transpose_rows<DT>(rows_at, rows, kc, dst, kMr, sliver);
    }
  }
}

template <DType DT>
LMFLOW_AVX2 void pack_b_t(const GemmOperand& b, int64_t k0, int64_t n0, int64_t kc, int64_t nc, float* dst) {
  if (!b.trans) {
    // Row by row across every sliver: each row of B is read as one sequential run.
    const int64_t full = nc / kNr, cols = nc - full * kNr;
    for (int64_t k = 0; k < kc; ++k) {
      const char* src = element<DT>(b.data, (k0 + k) * b.ld + n0);
      float* out = dst + k * kNr;
      for (int64_t s = 0; s < full; ++s, src = element<DT>(src, kNr), out += kNr * kc) {
        _mm256_store_ps(out, load8<DT>(src));
        _mm256_store_ps(out + 8, load8<DT>(element<DT>(src, 8)));
      }
      if (cols > 0) {
        _mm256_store_ps(out, load8_partial<DT>(src, cols));
        _mm256_store_ps(out + 8, cols > 8 ? load8_partial<DT>(element<DT>(src, 8), cols - 8) : _mm256_setzero_ps());
      }
    }
    return;
  }
  // Columns of op(B) are memory rows: transpose them 8 at a time into each half of a sliver.
  const __m256i all = _mm256_set1_epi32(-1);
  for (int64_t j0 = 0; j0 < nc; j0 += kNr, dst += kNr * kc) {
    const int64_t cols = std::min<int64_t>(kNr, nc - j0);
    for (int half = 0; half < 2; ++half) {
      const int n = static_cast<int>(std::clamp<int64_t>(cols - 8 * half, 0, 8));
      const char* rows_at[8];
      for (int j = 0; j < n; ++j) rows_at[j] = element<DT>(b.data, (n0 + j0 + 8 * half + j) * b.ld + k0);
      transpose_rows<DT>(rows_at, n, kc, dst + 8 * half, kNr, all);
    }
  }
}

void pack_a(const GemmOperand& a, int64_t m0, int64_t k0, int64_t mc, int64_t kc, float* dst) {
  switch (a.dtype) {
    case DType::kBF16: return pack_a_t<DType::kBF16>(a, m0, k0, mc, kc, dst);
    case DType::kF16: return pack_a_t<DType::kF16>(a, m0, k0, mc, kc, dst);
    default: return pack_a_t<DType::kF32>(a, m0, k0, mc, kc, dst);
  }
}

void pack_b(const GemmOperand& b, int64_t k0, int64_t n0, int64_t kc, int64_t nc, float* dst) {
  switch (b.dtype) {
    case DType::kBF16: return pack_b_t<DType::kBF16>(b, k0, n0, kc, nc, dst);
    case DType::kF16: return pack_b_t<DType::kF16>(b, k0, n0, kc, nc, dst);
    default: return pack_b_t<DType::kF32>(b, k0, n0, kc, nc, dst);
  }
}

LMFLOW_AVX2 void tile(int64_t kc, const float* ap, const float* bp, float* c, int64_t ldc, float alpha, float beta) {
  __m256 acc[kMr][2];
#pragma GCC unroll 6
  for (int i = 0; i < kMr; ++i) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
  for (int64_t k = 0; k < kc; ++k, ap += kMr, bp += kNr) {
    __m256 b0 = _mm256_load_ps(bp), b1 = _mm256_load_ps(bp + 8);
#pragma GCC unroll 6
    for (int i = 0; i < kMr; ++i) {
      __m256 a = _mm256_broadcast_ss(ap + i);
      acc[i][0] = _mm256_fmadd_ps(a, b0, acc[i][0]);
      acc[i][1] = _mm256_fmadd_ps(a, b1, acc[i][1]);
    }
  }
  const __m256 va = _mm256_set1_ps(alpha);
  if (beta == 0.0f) {
#pragma GCC unroll 6
    for (int i = 0; i < kMr; ++i) {
      _mm256_storeu_ps(c + i * ldc, _mm256_mul_ps(va, acc[i][0]));
      _mm256_storeu_ps(c + i * ldc + 8, _mm256_mul_ps(va, acc[i][1]));
    }
  } else {
    const __m256 vb = _mm256_set1_ps(beta);
#pragma GCC unroll 6
    for (int i = 0; i < kMr; ++i) {
      float* row = c + i * ldc;
      _mm256_storeu_ps(row, _mm256_fmadd_ps(va, acc[i][0], _mm256_mul_ps(vb, _mm256_loadu_ps(row))));
      _mm256_storeu_ps(row + 8, _mm256_fmadd_ps(va, acc[i][1], _mm256_mul_ps(vb, _mm256_loadu_ps(row + 8))));
    }
  }
}

// ---- Skinny blocks -------------------------------------------------------------------------

constexpr int kDotP = 2, kDotQ = 4;

LMFLOW_AVX2 inline float reduce8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

template <DType DT, int NP>
LMFLOW_AVX2 void dot_t(int nq, int64_t K, const float* x, int64_t ldx, const void* y, int64_t ldy, float* out) {
  const char* yq[kDotQ];
  #pragma GCC unroll 8
  for (int q = 0; q < kDotQ; ++q) yq[q] = element<DT>(y, (q < nq ? q : 0) * ldy);
  __m256 acc[NP][kDotQ];
  #pragma GCC unroll 8
  for (int p = 0; p < NP; ++p)
    #pragma GCC unroll 8
    for (int q = 0; q < kDotQ; ++q) acc[p][q] = _mm256_setzero_ps();
  int64_t k = 0;
  for (; k + 8 <= K; k += 8) {
    __m256 yv[kDotQ];
    #pragma GCC unroll 8
    for (int q = 0; q < kDotQ; ++q) yv[q] = load8<DT>(element<DT>(yq[q], k));
    #pragma GCC unroll 8
    for (int p = 0; p < NP; ++p) {
      __m256 xv = _mm256_loadu_ps(x + p * ldx + k);
      #pragma GCC unroll 8
      for (int q = 0; q < kDotQ; ++q) acc[p][q] = _mm256_fmadd_ps(xv, yv[q], acc[p][q]);
    }
  }
  if (k < K) {
    __m256 yv[kDotQ];
    #pragma GCC unroll 8
    for (int q = 0; q < kDotQ; ++q) yv[q] = load8_partial<DT>(element<DT>(yq[q], k), K - k);
    #pragma GCC unroll 8
    for (int p = 0; p < NP; ++p) {
      __m256 xv = load8_partial<DType::kF32>(x + p * ldx + k, K - k);
      #pragma GCC unroll 8
      for (int q = 0; q < kDotQ; ++q) acc[p][q] = _mm256_fmadd_ps(xv, yv[q], acc[p][q]);
    }
  }
  #pragma GCC unroll 8
  for (int p = 0; p < NP; ++p)
    for (int q = 0; q < nq; ++q) out[p * kDotQ + q] = reduce8(acc[p][q]);
}

template <DType DT>
void dot_dtype(int np, int nq, int64_t K, const float* x, int64_t ldx, const void* y, int64_t ldy, float* out) {
  if (np == 1) return dot_t<DT, 1>(nq, K, x, ldx, y, ldy, out);
  return dot_t<DT, 2>(nq, K, x, ldx, y, ldy, out);
}

void dot(int np, int nq, int64_t K, const float* x, int64_t ldx, const void* y, DType y_dtype, int64_t ldy, float* out) {
  switch (y_dtype) {
    case DType::kBF16: return dot_dtype<DType::kBF16>(np, nq, K, x, ldx, y, ldy, out);
    case DType::kF16: return dot_dtype<DType::kF16>(np, nq, K, x, ldx, y, ldy, out);
    default: return dot_dtype<DType::kF32>(np, nq, K, x, ldx, y, ldy, out);
  }
}

constexpr int kAxpyP = 6, kAxpyQ = 16;

// NP rows x 16 columns: acc[p][j] += sum_k x[p][k] * y[k][j]; columns past nq untouched.
template <DType DT, int NP>
LMFLOW_AVX2 void axpy_t(int nq, int64_t K, const float* x, int64_t ldx, const void* y, int64_t ldy, float* acc,
                        int64_t ldacc) {
  const __m256i lo = lane_mask(std::min(nq, 8)), hi = lane_mask(std::max(0, nq - 8));
  __m256 sum[NP][2];
#pragma GCC unroll 8
  for (int p = 0; p < NP; ++p) {
    sum[p][0] = _mm256_maskload_ps(acc + p * ldacc, lo);
    sum[p][1] = _mm256_maskload_ps(acc + p * ldacc + 8, hi);
  }
  for (int64_t k = 0; k < K; ++k) {
    const char* row = element<DT>(y, k * ldy);
    __m256 y0, y1;
    if (nq == kAxpyQ) {
      y0 = load8<DT>(row);
      y1 = load8<DT>(element<DT>(row, 8));
    } else {
      y0 = load8_partial<DT>(row, nq);
      y1 = nq > 8 ? load8_partial<DT>(element<DT>(row, 8), nq - 8) : _mm256_setzero_ps();
    }
#pragma GCC unroll 8
    for (int p = 0; p < NP; ++p) {
      __m256 xv = _mm256_broadcast_ss(x + p * ldx + k);
      sum[p][0] = _mm256_fmadd_ps(xv, y0, sum[p][0]);
      sum[p][1] = _mm256_fmadd_ps(xv, y1, sum[p][1]);
    }
  }
#pragma GCC unroll 8
  for (int p = 0; p < NP; ++p) {
    _mm256_maskstore_ps(acc + p * ldacc, lo, sum[p][0]);
    _mm256_maskstore_ps(acc + p * ldacc + 8, hi, sum[p][1]);
  }
}

template <DType DT>
void axpy_dtype(int np, int nq, int64_t K, const float* x, int64_t ldx, const void* y, int64_t ldy, float* acc,
                int64_t ldacc) {
  switch (np) {
    case 1: return axpy_t<DT, 1>(nq, K, x, ldx, y, ldy, acc, ldacc);
    case 2: return axpy_t<DT, 2>(nq, K, x, ldx, y, ldy, acc, ldacc);
    case 3: return axpy_t<DT, 3>(nq, K, x, ldx, y, ldy, acc, ldacc);
    case 4: return axpy_t<DT, 4>(nq, K, x, ldx, y, ldy, acc, ldacc);
    case 5: return axpy_t<DT, 5>(nq, K, x, ldx, y, ldy, acc, ldacc);
    default: return axpy_t<DT, 6>(nq, K, x, ldx, y, ldy, acc, ldacc);
  }
}

void axpy(int np, int nq, int64_t K, const float* x, int64_t ldx, const void* y, DType y_dtype, int64_t ldy, float* acc,
          int64_t ldacc) {
  switch (y_dtype) {
    case DType::kBF16: return axpy_dtype<DType::kBF16>(np, nq, K, x, ldx, y, ldy, acc, ldacc);
    case DType::kF16: return axpy_dtype<DType::kF16>(np, nq, K, x, ldx, y, ldy, acc, ldacc);
    default: return axpy_dtype<DType::kF32>(np, nq, K, x, ldx, y, ldy, acc, ldacc);
  }
}

}  // namespace

const GemmKernel& avx2_kernel() {
  // kc x nr of B: 512 x 16 floats = 32 KiB; mc x kc of packed A: 192 KiB, inside the 256-512 KiB
  // L2 of most AVX2 machines. Within 0.93-1.02x of OpenBLAS's Haswell kernel on Zen 5.
  static const GemmKernel kernel{"avx2", kMr, kNr, 96, 512, 4096, pack_a, pack_b, tile};
  return kernel;
}

const SkinnyKernels& avx2_skinny() {
  static const SkinnyKernels kernels{kDotP, kDotQ, dot, kAxpyP, kAxpyQ, axpy};
  return kernels;
}

}  // namespace gemm_detail
}  // namespace lmflow

#endif  // __x86_64__
