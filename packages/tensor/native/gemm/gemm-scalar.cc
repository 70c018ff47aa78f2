// The portable GEMM level: generic packing (every layout, every dtype) and a plain C++
// micro-kernel. It is the fallback on CPUs without AVX2 and the model the SIMD levels follow.
#include <algorithm>
#include <cstring>

#include "gemm/gemm-kernels.h"
#include "gemm/gemm-skinny.h"

namespace lmflow {
namespace gemm_detail {

void pack_a_generic(int mr, const GemmOperand& a, int64_t m0, int64_t k0, int64_t mc, int64_t kc, float* dst) {
  for (int64_t i0 = 0; i0 < mc; i0 += mr, dst += mr * kc) {
    const int64_t rows = std::min<int64_t>(mr, mc - i0);
    if (rows < mr) std::fill(dst, dst + mr * kc, 0.0f);
    if (a.trans) {
      // op(A)(m, k) = A[k][m]: the mr values of one k are contiguous in memory.
      for (int64_t k = 0; k < kc; ++k) {
        const void* src = offset_ptr(a.data, a.dtype, (k0 + k) * a.ld + m0 + i0);
        for (int64_t i = 0; i < rows; ++i) dst[k * mr + i] = load_as_f32(src, a.dtype, i);
      }
    } else {
      for (int64_t i = 0; i < rows; ++i) {
        const void* src = offset_ptr(a.data, a.dtype, (m0 + i0 + i) * a.ld + k0);
        for (int64_t k = 0; k < kc; ++k) dst[k * mr + i] = load_as_f32(src, a.dtype, k);
      }
    }
  }
}

void pack_b_generic(int nr, const GemmOperand& b, int64_t k0, int64_t n0, int64_t kc, int64_t nc, float* dst) {
  for (int64_t j0 = 0; j0 < nc; j0 += nr, dst += nr * kc) {
    const int64_t cols = std::min<int64_t>(nr, nc - j0);
    if (cols < nr) std::fill(dst, dst + nr * kc, 0.0f);
    if (!b.trans) {
      for (int64_t k = 0; k < kc; ++k) {
        const void* src = offset_ptr(b.data, b.dtype, (k0 + k) * b.ld + n0 + j0);
        for (int64_t j = 0; j < cols; ++j) dst[k * nr + j] = load_as_f32(src, b.dtype, j);
      }
    } else {
      // op(B)(k, n) = B[n][k]: one column of op(B) is contiguous in memory.
      for (int64_t j = 0; j < cols; ++j) {
        const void* src = offset_ptr(b.data, b.dtype, (n0 + j0 + j) * b.ld + k0);
        for (int64_t k = 0; k < kc; ++k) dst[k * nr + j] = load_as_f32(src, b.dtype, k);
      }
    }
  }
}

namespace {

constexpr int kMr = 4;
constexpr int kNr = 8;

void pack_a(const GemmOperand& a, int64_t m0, int64_t k0, int64_t mc, int64_t kc, float* dst) {
  pack_a_generic(kMr, a, m0, k0, mc, kc, dst);
}

void pack_b(const GemmOperand& b, int64_t k0, int64_t n0, int64_t kc, int64_t nc, float* dst) {
  pack_b_generic(kNr, b, k0, n0, kc, nc, dst);
}

void tile(int64_t kc, const float* ap, const float* bp, float* c, int64_t ldc, float alpha, float beta) {
  float acc[kMr][kNr] = {};
  for (int64_t k = 0; k < kc; ++k, ap += kMr, bp += kNr) {
    for (int i = 0; i < kMr; ++i) {
      for (int j = 0; j < kNr; ++j) acc[i][j] += ap[i] * bp[j];
    }
  }
  for (int i = 0; i < kMr; ++i) {
    float* row = c + i * ldc;
    for (int j = 0; j < kNr; ++j) row[j] = beta == 0.0f ? alpha * acc[i][j] : alpha * acc[i][j] + beta * row[j];
  }
}

constexpr int kDotP = 2, kDotQ = 2;

void dot(int np, int nq, int64_t K, const float* x, int64_t ldx, const void* y, DType y_dtype, int64_t ldy, float* out) {
  for (int p = 0; p < np; ++p) {
    for (int q = 0; q < nq; ++q) {
      const void* row = offset_ptr(y, y_dtype, q * ldy);
      float sum = 0.0f;
      for (int64_t k = 0; k < K; ++k) sum += x[p * ldx + k] * load_as_f32(row, y_dtype, k);
      out[p * kDotQ + q] = sum;
    }
  }
}

constexpr int kAxpyP = 4, kAxpyQ = 16;

void axpy(int np, int nq, int64_t K, const float* x, int64_t ldx, const void* y, DType y_dtype, int64_t ldy, float* acc,
          int64_t ldacc) {
  float row[kAxpyQ];
  for (int64_t k = 0; k < K; ++k) {
    const void* src = offset_ptr(y, y_dtype, k * ldy);
    for (int j = 0; j < nq; ++j) row[j] = load_as_f32(src, y_dtype, j);
    for (int p = 0; p < np; ++p) {
      const float xv = x[p * ldx + k];
      float* out = acc + p * ldacc;
      for (int j = 0; j < nq; ++j) out[j] += xv * row[j];
    }
  }
}

}  // namespace

const SkinnyKernels& scalar_skinny() {
  static const SkinnyKernels kernels{kDotP, kDotQ, dot, kAxpyP, kAxpyQ, axpy};
  return kernels;
}

const GemmKernel& scalar_kernel() {
  static const GemmKernel kernel{"scalar", kMr, kNr, 128, 256, 2048, pack_a, pack_b, tile};
  return kernel;
}

}  // namespace gemm_detail
}  // namespace lmflow
