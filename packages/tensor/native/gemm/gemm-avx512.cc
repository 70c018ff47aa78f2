// AVX-512 GEMM level: a 12 x 32 micro-kernel (24 zmm accumulators; per k, two vector loads
// of packed B and 12 broadcasts of packed A feed 24 FMAs), packing that converts bf16/f16 and
// transposes 16 x 16 blocks in registers, and the skinny (decode) blocks.
#if defined(__x86_64__)

#include <immintrin.h>

#include <algorithm>
#include <vector>

#include "gemm/gemm-kernels.h"
#include "gemm/gemm-skinny.h"

// GCC 12 warns inside its own avx512fintrin.h (the `__Y = __Y` of _mm512_undefined_ps) when
// shuffles are inlined here; the value is deliberately undefined and never read.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#define LMFLOW_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma")))

namespace lmflow {
namespace gemm_detail {
namespace {

constexpr int kMr = 12;
constexpr int kNv = 2;  // zmm vectors across one tile row
constexpr int kNr = 16 * kNv;

// 16 elements of dtype DT as f32.
template <DType DT>
LMFLOW_AVX512 inline __m512 load16(const void* p) {
  if constexpr (DT == DType::kBF16) {
    __m512i wide = _mm512_cvtepu16_epi32(_mm256_loadu_si256(static_cast<const __m256i*>(p)));
    return _mm512_castsi512_ps(_mm512_slli_epi32(wide, 16));
  } else if constexpr (DT == DType::kF16) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(static_cast<const __m256i*>(p)));
  } else {
    return _mm512_loadu_ps(p);
  }
}

// The lanes of `mask` loaded, the others zero (masked lanes are never touched in memory).
template <DType DT>
LMFLOW_AVX512 inline __m512 load16_masked(const void* p, __mmask16 mask) {
  if constexpr (DT == DType::kBF16) {
    __m512i wide = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(mask, p));
    return _mm512_castsi512_ps(_mm512_slli_epi32(wide, 16));
  } else if constexpr (DT == DType::kF16) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(mask, p));
  } else {
    return _mm512_maskz_loadu_ps(mask, p);
  }
}

LMFLOW_AVX512 inline __mmask16 first_lanes(int64_t n) {
  return n >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << n) - 1);
}

template <DType DT>
inline const char* element(const void* base, int64_t i) {
  return static_cast<const char*>(base) + i * (DT == DType::kF32 ? 4 : 2);
}

// r[i][j] -> r[j][i] for a 16 x 16 block of floats.
LMFLOW_AVX512 inline void transpose16(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  // u[4g + e]: in 128-bit lane L, column 4L + e of rows 4g .. 4g + 3.
  __m512 u[16];
  for (int g = 0; g < 4; ++g) {
    __m512d t0 = _mm512_castps_pd(t[4 * g]), t1 = _mm512_castps_pd(t[4 * g + 1]);
    __m512d t2 = _mm512_castps_pd(t[4 * g + 2]), t3 = _mm512_castps_pd(t[4 * g + 3]);
    u[4 * g + 0] = _mm512_castpd_ps(_mm512_unpacklo_pd(t0, t2));
    u[4 * g + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(t0, t2));
    u[4 * g + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(t1, t3));
    u[4 * g + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(t1, t3));
  }
  for (int e = 0; e < 4; ++e) {
    __m512 even01 = _mm512_shuffle_f32x4(u[e], u[4 + e], 0x88);   // lanes 0, 2 of groups 0, 1
    __m512 even23 = _mm512_shuffle_f32x4(u[8 + e], u[12 + e], 0x88);
    __m512 odd01 = _mm512_shuffle_f32x4(u[e], u[4 + e], 0xdd);    // lanes 1, 3 of groups 0, 1
    __m512 odd23 = _mm512_shuffle_f32x4(u[8 + e], u[12 + e], 0xdd);
    r[e] = _mm512_shuffle_f32x4(even01, even23, 0x88);
    r[8 + e] = _mm512_shuffle_f32x4(even01, even23, 0xdd);
    r[4 + e] = _mm512_shuffle_f32x4(odd01, odd23, 0x88);
    r[12 + e] = _mm512_shuffle_f32x4(odd01, odd23, 0xdd);
  }
}

// Reads `rows` (<= 16) memory rows of kc elements (row i at rows_at[i]) and writes them
// transposed: dst[k * dst_stride + i] for the lanes of store_mask; rows past `rows` are zero.
template <DType DT>
LMFLOW_AVX512 void transpose_rows(const char* const* rows_at, int rows, int64_t kc, float* dst, int64_t dst_stride,
                                  __mmask16 store_mask) {
  __m512 r[16];
  int64_t k = 0;
  for (; k + 16 <= kc; k += 16) {
    for (int i = 0; i < 16; ++i) r[i] = i < rows ? load16<DT>(element<DT>(rows_at[i], k)) : _mm512_setzero_ps();
    transpose16(r);
    for (int t = 0; t < 16; ++t) _mm512_mask_storeu_ps(dst + (k + t) * dst_stride, store_mask, r[t]);
  }
  if (k < kc) {
    const __mmask16 tail = first_lanes(kc - k);
    for (int i = 0; i < 16; ++i) r[i] = i < rows ? load16_masked<DT>(element<DT>(rows_at[i], k), tail) : _mm512_setzero_ps();
    transpose16(r);
    for (int t = 0; t < kc - k; ++t) _mm512_mask_storeu_ps(dst + (k + t) * dst_stride, store_mask, r[t]);
  }
}

template <DType DT>
LMFLOW_AVX512 void pack_a_t(const GemmOperand& a, int64_t m0, int64_t k0, int64_t mc, int64_t kc, float* dst) {
  const __mmask16 sliver = first_lanes(kMr);
  for (int64_t i0 = 0; i0 < mc; i0 += kMr, dst += kMr * kc) {
    const int rows = static_cast<int>(std::min<int64_t>(kMr, mc - i0));
    if (a.trans) {
      // The rows of one k are contiguous: one masked load per k (zeros past the edge).
      const __mmask16 valid = first_lanes(rows);
      for (int64_t k = 0; k < kc; ++k) {
        __m512 v = load16_masked<DT>(element<DT>(a.data, (k0 + k) * a.ld + m0 + i0), valid);
        _mm512_mask_storeu_ps(dst + k * kMr, sliver, v);
      }
    } else {
      const char* rows_at[kMr];
      for (int i = 0; i < rows; ++i) rows_at[i] = element<DT>(a.data, (m0 + i0 + i) * a.ld + k0);
      transpose_rows<DT>(rows_at, rows, kc, dst, kMr, sliver);
    }
  }
}

template <DType DT>
LMFLOW_AVX512 void pack_b_t(const GemmOperand& b, int64_t k0, int64_t n0, int64_t kc, int64_t nc, float* dst) {
  if (!b.trans) {
    // Row by row across every sliver: each row of B is read as one sequential run.
    const int64_t full = nc / kNr, cols = nc - full * kNr;
    const __mmask16 lo = first_lanes(cols), hi = first_lanes(std::max<int64_t>(0, cols - 16));
    for (int64_t k = 0; k < kc; ++k) {
      const char* src = element<DT>(b.data, (k0 + k) * b.ld + n0);
      float* out = dst + k * kNr;
      for (int64_t s = 0; s < full; ++s, src = element<DT>(src, kNr), out += kNr * kc) {
        _mm512_store_ps(out, load16<DT>(src));
        _mm512_store_ps(out + 16, load16<DT>(element<DT>(src, 16)));
      }
      if (cols > 0) {
        _mm512_store_ps(out, load16_masked<DT>(src, lo));
        _mm512_store_ps(out + 16, load16_masked<DT>(element<DT>(src, 16), hi));
      }
    }
    return;
  }
  // Columns of op(B) are memory rows: transpose them 16 at a time into each half of a sliver.
  for (int64_t j0 = 0; j0 < nc; j0 += kNr, dst += kNr * kc) {
    const int64_t cols = std::min<int64_t>(kNr, nc - j0);
    for (int half = 0; half < kNv; ++half) {
      const int n = static_cast<int>(std::clamp<int64_t>(cols - 16 * half, 0, 16));
      const char* rows_at[16];
      for (int j = 0; j < n; ++j) rows_at[j] = element<DT>(b.data, (n0 + j0 + 16 * half + j) * b.ld + k0);
      transpose_rows<DT>(rows_at, n, kc, dst + 16 * half, kNr, 0xffff);
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

LMFLOW_AVX512 void tile(int64_t kc, const float* ap, const float* bp, float* c, int64_t ldc, float alpha, float beta) {
  __m512 acc[kMr][kNv];
#pragma GCC unroll 12
  for (int i = 0; i < kMr; ++i) {
#pragma GCC unroll 2
    for (int j = 0; j < kNv; ++j) acc[i][j] = _mm512_setzero_ps();
  }
  // The C tile is read or written only after the k loop: start fetching its lines now so that
  // they arrive while the loop runs (C is often far larger than the caches).
#pragma GCC unroll 12
  for (int i = 0; i < kMr; ++i) {
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + kNr - 1), _MM_HINT_T0);
  }
#pragma GCC unroll 4
  for (int64_t k = 0; k < kc; ++k, ap += kMr, bp += kNr) {
    __m512 b0 = _mm512_load_ps(bp), b1 = _mm512_load_ps(bp + 16);
#pragma GCC unroll 12
    for (int i = 0; i < kMr; ++i) {
      __m512 a = _mm512_set1_ps(ap[i]);
      acc[i][0] = _mm512_fmadd_ps(a, b0, acc[i][0]);
      acc[i][1] = _mm512_fmadd_ps(a, b1, acc[i][1]);
    }
  }
  const __m512 va = _mm512_set1_ps(alpha);
  if (beta == 0.0f) {
#pragma GCC unroll 12
    for (int i = 0; i < kMr; ++i) {
      _mm512_storeu_ps(c + i * ldc, _mm512_mul_ps(va, acc[i][0]));
      _mm512_storeu_ps(c + i * ldc + 16, _mm512_mul_ps(va, acc[i][1]));
    }
  } else {
    const __m512 vb = _mm512_set1_ps(beta);
#pragma GCC unroll 12
    for (int i = 0; i < kMr; ++i) {
      float* row = c + i * ldc;
      _mm512_storeu_ps(row, _mm512_fmadd_ps(va, acc[i][0], _mm512_mul_ps(vb, _mm512_loadu_ps(row))));
      _mm512_storeu_ps(row + 16, _mm512_fmadd_ps(va, acc[i][1], _mm512_mul_ps(vb, _mm512_loadu_ps(row + 16))));
    }
  }
}

// ---- Skinny blocks -------------------------------------------------------------------------

constexpr int kDotP = 4, kDotQ = 4;

// NP x 4 dot products over K; y rows past nq repeat row 0 (computed, not stored).
template <DType DT, int NP>
LMFLOW_AVX512 void dot_t(int nq, int64_t K, const float* x, int64_t ldx, const void* y, int64_t ldy, float* out) {
  const char* yq[kDotQ];
  #pragma GCC unroll 8
  for (int q = 0; q < kDotQ; ++q) yq[q] = element<DT>(y, (q < nq ? q : 0) * ldy);
  __m512 acc[NP][kDotQ];
  #pragma GCC unroll 8
  for (int p = 0; p < NP; ++p)
    #pragma GCC unroll 8
    for (int q = 0; q < kDotQ; ++q) acc[p][q] = _mm512_setzero_ps();
  int64_t k = 0;
  for (; k + 16 <= K; k += 16) {
    __m512 yv[kDotQ];
    #pragma GCC unroll 8
    for (int q = 0; q < kDotQ; ++q) yv[q] = load16<DT>(element<DT>(yq[q], k));
    #pragma GCC unroll 8
    for (int p = 0; p < NP; ++p) {
      __m512 xv = _mm512_loadu_ps(x + p * ldx + k);
      #pragma GCC unroll 8
      for (int q = 0; q < kDotQ; ++q) acc[p][q] = _mm512_fmadd_ps(xv, yv[q], acc[p][q]);
    }
  }
  if (k < K) {
    const __mmask16 tail = first_lanes(K - k);
    __m512 yv[kDotQ];
    #pragma GCC unroll 8
    for (int q = 0; q < kDotQ; ++q) yv[q] = load16_masked<DT>(element<DT>(yq[q], k), tail);
    #pragma GCC unroll 8
    for (int p = 0; p < NP; ++p) {
      __m512 xv = _mm512_maskz_loadu_ps(tail, x + p * ldx + k);
      #pragma GCC unroll 8
      for (int q = 0; q < kDotQ; ++q) acc[p][q] = _mm512_fmadd_ps(xv, yv[q], acc[p][q]);
    }
  }
  #pragma GCC unroll 8
  for (int p = 0; p < NP; ++p)
    for (int q = 0; q < nq; ++q) out[p * kDotQ + q] = _mm512_reduce_add_ps(acc[p][q]);
}

template <DType DT>
void dot_dtype(int np, int nq, int64_t K, const float* x, int64_t ldx, const void* y, int64_t ldy, float* out) {
  switch (np) {
    case 1: return dot_t<DT, 1>(nq, K, x, ldx, y, ldy, out);
    case 2: return dot_t<DT, 2>(nq, K, x, ldx, y, ldy, out);
    case 3: return dot_t<DT, 3>(nq, K, x, ldx, y, ldy, out);
    default: return dot_t<DT, 4>(nq, K, x, ldx, y, ldy, out);
  }
}

void dot(int np, int nq, int64_t K, const float* x, int64_t ldx, const void* y, DType y_dtype, int64_t ldy, float* out) {
  switch (y_dtype) {
    case DType::kBF16: return dot_dtype<DType::kBF16>(np, nq, K, x, ldx, y, ldy, out);
    case DType::kF16: return dot_dtype<DType::kF16>(np, nq, K, x, ldx, y, ldy, out);
    default: return dot_dtype<DType::kF32>(np, nq, K, x, ldx, y, ldy, out);
  }
}

// One row of x against many rows of y (decoding's x @ W^T): 8 rows of y at a time, their 8
// sums reduced together into one vector and stored at once. The per-row tail of dot_t
// (a full horizontal sum and a scalar store for each output) costs as much as reading a
// short row: a 384-wide f32 row is 1.5 KiB, ~40 ns at memory speed.
LMFLOW_AVX512 inline __m256 sum8(const __m512 a[8]) {
  __m256 h[8];
#pragma GCC unroll 8
  for (int r = 0; r < 8; ++r) {
    h[r] = _mm256_add_ps(_mm512_castps512_ps256(a[r]), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a[r]), 1)));
  }
  // hadd within 128-bit lanes: [r0 lo, r1 lo, r2 lo, r3 lo | r0 hi, ... ] after two rounds.
  const __m256 s0123 = _mm256_hadd_ps(_mm256_hadd_ps(h[0], h[1]), _mm256_hadd_ps(h[2], h[3]));
  const __m256 s4567 = _mm256_hadd_ps(_mm256_hadd_ps(h[4], h[5]), _mm256_hadd_ps(h[6], h[7]));
  return _mm256_add_ps(_mm256_permute2f128_ps(s0123, s4567, 0x20), _mm256_permute2f128_ps(s0123, s4567, 0x31));
}

template <DType DT>
LMFLOW_AVX512 void gemv_t(int64_t nq, int64_t K, const float* x, const void* y, int64_t ldy, float* out) {
  const __mmask16 tail = first_lanes(K % 16);
  // Decoding reads each weight row once, in rows of a few KB: too short for the hardware
  // prefetcher to ramp up on 8 streams at once, so the rows kAhead rows further on are
  // prefetched while these are summed, one cache line per row per line of k.
  constexpr int64_t kAhead = 16;
  constexpr int64_t kPerLine = DT == DType::kF32 ? 16 : 32;  // elements per 64-byte line
  // bf16: x's 32-element chunks de-interleaved, evens then odds (see the loop below).
  thread_local std::vector<float> xeo_buffer;
  const float* xeo = nullptr;
  if constexpr (DT == DType::kBF16) {
    xeo_buffer.resize(static_cast<size_t>(K));
    for (int64_t c = 0; c + 32 <= K; c += 32) {
      for (int j = 0; j < 16; ++j) {
        xeo_buffer[c + j] = x[c + 2 * j];
        xeo_buffer[c + 16 + j] = x[c + 2 * j + 1];
      }
    }
    xeo = xeo_buffer.data();
  }
  int64_t q = 0;
  for (; q + 8 <= nq; q += 8) {
    const char* yq[8];
    const char* next[8];
    __m512 acc[8];
    const bool prefetch = q + kAhead + 8 <= nq;
#pragma GCC unroll 8
    for (int r = 0; r < 8; ++r) {
      yq[r] = element<DT>(y, (q + r) * ldy);
      next[r] = element<DT>(y, (q + kAhead + r) * ldy);
      acc[r] = _mm512_setzero_ps();
    }
    int64_t k = 0;
    if constexpr (DT == DType::kBF16) {
      // 32 weights per 64-byte load: even elements are the low halves of its 32-bit lanes
      // (shifted up, an f32), odd ones the high halves (masked); x comes de-interleaved to
      // match. Two instructions per 16 weights instead of a widening load and a shift.
      __m512 odd[8];
#pragma GCC unroll 8
      for (int r = 0; r < 8; ++r) odd[r] = _mm512_setzero_ps();
      const __m512i high = _mm512_set1_epi32(static_cast<int>(0xffff0000u));
      for (; k + 32 <= K; k += 32) {
        if (prefetch) {
#pragma GCC unroll 8
          for (int r = 0; r < 8; ++r) _mm_prefetch(element<DT>(next[r], k), _MM_HINT_T0);
        }
        const __m512 xe = _mm512_loadu_ps(xeo + k), xo = _mm512_loadu_ps(xeo + k + 16);
#pragma GCC unroll 8
        for (int r = 0; r < 8; ++r) {
          const __m512i v = _mm512_loadu_si512(element<DT>(yq[r], k));
          acc[r] = _mm512_fmadd_ps(xe, _mm512_castsi512_ps(_mm512_slli_epi32(v, 16)), acc[r]);
          odd[r] = _mm512_fmadd_ps(xo, _mm512_castsi512_ps(_mm512_and_si512(v, high)), odd[r]);
        }
      }
#pragma GCC unroll 8
      for (int r = 0; r < 8; ++r) acc[r] = _mm512_add_ps(acc[r], odd[r]);
    }
    for (; k + 16 <= K; k += 16) {
      if (prefetch && k % kPerLine == 0) {
#pragma GCC unroll 8
        for (int r = 0; r < 8; ++r) _mm_prefetch(element<DT>(next[r], k), _MM_HINT_T0);
      }
      const __m512 xv = _mm512_loadu_ps(x + k);
#pragma GCC unroll 8
      for (int r = 0; r < 8; ++r) acc[r] = _mm512_fmadd_ps(xv, load16<DT>(element<DT>(yq[r], k)), acc[r]);
    }
    if (k < K) {
      const __m512 xv = _mm512_maskz_loadu_ps(tail, x + k);
#pragma GCC unroll 8
      for (int r = 0; r < 8; ++r) acc[r] = _mm512_fmadd_ps(xv, load16_masked<DT>(element<DT>(yq[r], k), tail), acc[r]);
    }
    _mm256_storeu_ps(out + q, sum8(acc));
  }
  for (; q < nq; ++q) {
    const char* yr = element<DT>(y, q * ldy);
    __m512 acc = _mm512_setzero_ps();
    int64_t k = 0;
    for (; k + 16 <= K; k += 16) acc = _mm512_fmadd_ps(_mm512_loadu_ps(x + k), load16<DT>(element<DT>(yr, k)), acc);
    if (k < K) acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, x + k), load16_masked<DT>(element<DT>(yr, k), tail), acc);
    out[q] = _mm512_reduce_add_ps(acc);
  }
}

void gemv(int64_t nq, int64_t K, const float* x, const void* y, DType y_dtype, int64_t ldy, float* out) {
  switch (y_dtype) {
    case DType::kBF16: return gemv_t<DType::kBF16>(nq, K, x, y, ldy, out);
    case DType::kF16: return gemv_t<DType::kF16>(nq, K, x, y, ldy, out);
    default: return gemv_t<DType::kF32>(nq, K, x, y, ldy, out);
  }
}

constexpr int kAxpyP = 6, kAxpyV = 4, kAxpyQ = 16 * kAxpyV;

// NP rows x 64 columns: acc[p][j] += sum_k x[p][k] * y[k][j]; columns past nq untouched.
template <DType DT, int NP>
LMFLOW_AVX512 void axpy_t(int nq, int64_t K, const float* x, int64_t ldx, const void* y, int64_t ldy, float* acc,
                          int64_t ldacc) {
  __mmask16 masks[kAxpyV];
#pragma GCC unroll 8
  for (int v = 0; v < kAxpyV; ++v) masks[v] = first_lanes(std::max(0, nq - 16 * v));
  __m512 sum[NP][kAxpyV];
#pragma GCC unroll 8
  for (int p = 0; p < NP; ++p)
#pragma GCC unroll 8
    for (int v = 0; v < kAxpyV; ++v) sum[p][v] = _mm512_maskz_loadu_ps(masks[v], acc + p * ldacc + 16 * v);
  for (int64_t k = 0; k < K; ++k) {
    const char* row = element<DT>(y, k * ldy);
    __m512 yv[kAxpyV];
#pragma GCC unroll 8
    for (int v = 0; v < kAxpyV; ++v) yv[v] = load16_masked<DT>(element<DT>(row, 16 * v), masks[v]);
#pragma GCC unroll 8
    for (int p = 0; p < NP; ++p) {
      __m512 xv = _mm512_set1_ps(x[p * ldx + k]);
#pragma GCC unroll 8
      for (int v = 0; v < kAxpyV; ++v) sum[p][v] = _mm512_fmadd_ps(xv, yv[v], sum[p][v]);
    }
  }
#pragma GCC unroll 8
  for (int p = 0; p < NP; ++p)
#pragma GCC unroll 8
    for (int v = 0; v < kAxpyV; ++v) _mm512_mask_storeu_ps(acc + p * ldacc + 16 * v, masks[v], sum[p][v]);
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

const GemmKernel& avx512_kernel() {
  // Measured on Zen 5 against OpenBLAS (tools/bench/gemm.ts): a deep kc halves the passes over
  // each C tile (12 rows of C far apart in memory) and the B sliver (kc x 32) streams well
  // from L2; mc x kc of packed A is 720 KiB (L2 1 MiB); the shared kc x nc panel 6 MiB of L3.
  static const GemmKernel kernel{"avx512", kMr, kNr, 240, 768, 2048, pack_a, pack_b, tile};
  return kernel;
}

const SkinnyKernels& avx512_skinny() {
  static const SkinnyKernels kernels{kDotP, kDotQ, dot, kAxpyP, kAxpyQ, axpy, gemv};
  return kernels;
}

}  // namespace gemm_detail
}  // namespace lmflow

#endif  // __x86_64__
