// Skinny products: few rows (decoding runs M = 1..16 tokens through every weight) or few
// columns. Packing the big operand would cost as much as the product itself, so these read it
// in place, convert bf16/f16 on the fly, and split its long dimension over the threads.
#pragma once

#include <cstdint>

#include "gemm/gemm.h"

namespace lmflow {
namespace gemm_detail {

// Both return false, doing nothing, when the shape is not skinny (the packed path runs then).
bool skinny_gemm(int64_t M, int64_t N, int64_t K, float alpha, const GemmOperand& a, const GemmOperand& b,
                 float beta, void* c, DType c_dtype, int64_t ldc);
bool skinny_gemm_parallel(int64_t M, int64_t N, int64_t K, float alpha, const GemmOperand& a,
                          const GemmOperand& b, float beta, void* c, DType c_dtype, int64_t ldc);

// One product of a group: C_i (M x N_i, leading dimension ldc) = alpha * op(A) op(B_i) + beta * C_i.
struct SkinnyGroupItem {
  int64_t N;
  GemmOperand b;
  void* c;
  DType c_dtype;
  int64_t ldc;
};
// Several skinny products sharing op(A) (M x K) in one job of the pool: the q, k, v (or gate
// and up) projections of a decoding step, whose chunks the threads take from one counter.
// Returns false, doing nothing, unless M is skinny and no item is (N_i < M).
bool skinny_gemm_group_parallel(int64_t M, int64_t K, float alpha, const GemmOperand& a, const SkinnyGroupItem* items,
                                int count, float beta);

// The SIMD blocks each level provides.
//
// dot:  out[p * dot_q + q] = sum_k x[p * ldx + k] * y[q * ldy + k] for p < np, q < nq;
//       x f32 rows, y rows of y_dtype, both contiguous along k.
using SkinnyDotFn = void (*)(int np, int nq, int64_t K, const float* x, int64_t ldx, const void* y, DType y_dtype,
                             int64_t ldy, float* out);
// axpy: acc[p * ldacc + j] += sum_k x[p * ldx + k] * y[k * ldy + j] for p < np, j < nq;
//       y's rows contiguous along j.
using SkinnyAxpyFn = void (*)(int np, int nq, int64_t K, const float* x, int64_t ldx, const void* y, DType y_dtype,
                              int64_t ldy, float* acc, int64_t ldacc);

// gemv: out[q] = sum_k x[k] * y[q * ldy + k] for q < nq (dot with one row of x, any nq).
using SkinnyGemvFn = void (*)(int64_t nq, int64_t K, const float* x, const void* y, DType y_dtype, int64_t ldy,
                              float* out);

struct SkinnyKernels {
  int dot_p, dot_q;  // block size of dot (np <= dot_p, nq <= dot_q)
  SkinnyDotFn dot;
  int axpy_p, axpy_q;
  SkinnyAxpyFn axpy;
  SkinnyGemvFn gemv = nullptr;  // optional: dot runs when a level has none
};

const SkinnyKernels& scalar_skinny();
#if defined(__x86_64__)
const SkinnyKernels& avx2_skinny();
const SkinnyKernels& avx512_skinny();
#endif

}  // namespace gemm_detail
}  // namespace lmflow
