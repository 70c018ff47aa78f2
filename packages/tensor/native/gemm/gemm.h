// General matrix multiply for the CPU backend: packed, cache-blocked, SIMD micro-kernels
// chosen at run time (AVX-512, AVX2+FMA, scalar), threaded on the shared pool.
#pragma once

#include <cstdint>

#include "common/dtype.h"

namespace lmflow {

// One matrix operand: op(X) is X when !trans, X^T when trans. Row-major storage with leading
// dimension ld (elements between consecutive rows of the stored matrix). dtype f32, bf16 or
// f16 (converted to f32 while packing).
struct GemmOperand {
  const void* data;
  DType dtype;
  bool trans;
  int64_t ld;
};

// C (M x N, row-major, leading dimension ldc, dtype f32/bf16/f16)
//   = alpha * op(A) (M x K) * op(B) (K x N) + beta * C.
// beta == 0 overwrites C without reading it. Accumulates in f32. Uses the thread pool.
void gemm(int64_t M, int64_t N, int64_t K, float alpha, const GemmOperand& a, const GemmOperand& b,
          float beta, void* c, DType c_dtype, int64_t ldc);

// The same on the calling thread only, for kernels that already run inside parallel_for
// (attention computes one head per task).
void gemm_serial(int64_t M, int64_t N, int64_t K, float alpha, const GemmOperand& a,
                 const GemmOperand& b, float beta, void* c, DType c_dtype, int64_t ldc);

// f32 shorthands in BLAS argument order.
inline void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                  const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
                  int64_t ldc) {
  gemm(M, N, K, alpha, GemmOperand{A, DType::kF32, trans_a, lda},
       GemmOperand{B, DType::kF32, trans_b, ldb}, beta, C, DType::kF32, ldc);
}

inline void sgemm_serial(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                         const float* A, int64_t lda, const float* B, int64_t ldb, float beta,
                         float* C, int64_t ldc) {
  gemm_serial(M, N, K, alpha, GemmOperand{A, DType::kF32, trans_a, lda},
              GemmOperand{B, DType::kF32, trans_b, ldb}, beta, C, DType::kF32, ldc);
}

}  // namespace lmflow
