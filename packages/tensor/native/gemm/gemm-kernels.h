// Internal to the GEMM: what one SIMD level provides (packing and the register-blocked
// micro-kernel) and the cache blocking that goes with it. gemm-driver.cc runs the loops
// around them; gemm-avx512.cc, gemm-avx2.cc and gemm-scalar.cc each fill one GemmKernel.
#pragma once

#include <cstdint>

#include "gemm/gemm.h"

namespace lmflow {
namespace gemm_detail {

// Packed panels hold f32 whatever the operand dtype: bf16/f16 are converted while packing.
//
// Packed A (mc x kc block of op(A)): slivers of MR rows, each stored k-major, so the
// micro-kernel reads MR consecutive floats per k: ap[s * MR * kc + k * MR + i] = op(A)(s*MR + i, k).
// Packed B (kc x nc panel of op(B)): slivers of NR columns, the same way:
// bp[s * NR * kc + k * NR + j] = op(B)(k, s*NR + j). Rows/columns past the edge are zero.
// B slivers start 64-byte aligned (the kernels load them aligned); MR, NR <= 32.

// Packs op(A)(m0 .. m0+mc, k0 .. k0+kc) into dst (slivers of mr rows).
using PackAFn = void (*)(const GemmOperand& a, int64_t m0, int64_t k0, int64_t mc, int64_t kc, float* dst);
// Packs op(B)(k0 .. k0+kc, n0 .. n0+nc) into dst (slivers of nr columns).
using PackBFn = void (*)(const GemmOperand& b, int64_t k0, int64_t n0, int64_t kc, int64_t nc, float* dst);
// One MR x NR tile: c (f32, row stride ldc) = alpha * ap . bp + beta * c over kc steps.
// beta == 0 must not read c.
using TileFn = void (*)(int64_t kc, const float* ap, const float* bp, float* c, int64_t ldc, float alpha, float beta);

struct GemmKernel {
  const char* name;
  int mr, nr;
  // Cache blocking: one B sliver (kc x nr) serves every tile of a row block in turn, the
  // packed A block (mc x kc) stays in L2, the packed B panel (kc x nc) in L3.
  int64_t mc, kc, nc;
  PackAFn pack_a;
  PackBFn pack_b;
  TileFn tile;
};

const GemmKernel& scalar_kernel();
#if defined(__x86_64__)
const GemmKernel& avx2_kernel();
const GemmKernel& avx512_kernel();
#endif
// The kernel for the current simd_level().
const GemmKernel& select_kernel();

// Element i of a row of `dtype` values, as f32.
inline float load_as_f32(const void* base, DType dtype, int64_t i) {
  switch (dtype) {
    case DType::kBF16: return bf16_to_f32(static_cast<const uint16_t*>(base)[i]);
    case DType::kF16: return f16_to_f32(static_cast<const uint16_t*>(base)[i]);
    default: return static_cast<const float*>(base)[i];
  }
}

inline void store_from_f32(void* base, DType dtype, int64_t i, float v) {
  switch (dtype) {
    case DType::kBF16: static_cast<uint16_t*>(base)[i] = f32_to_bf16(v); break;
    case DType::kF16: static_cast<uint16_t*>(base)[i] = f32_to_f16(v); break;
    default: static_cast<float*>(base)[i] = v; break;
  }
}

// Pointer to element i of a buffer of `dtype` values.
inline const void* offset_ptr(const void* base, DType dtype, int64_t i) {
  return static_cast<const char*>(base) + i * dtype_size(dtype);
}
inline void* offset_ptr(void* base, DType dtype, int64_t i) {
  return static_cast<char*>(base) + i * dtype_size(dtype);
}

// Scalar packing, correct for every layout and dtype; SIMD levels use it for what they do
// not specialise. mr/nr are the sliver widths.
void pack_a_generic(int mr, const GemmOperand& a, int64_t m0, int64_t k0, int64_t mc, int64_t kc, float* dst);
void pack_b_generic(int nr, const GemmOperand& b, int64_t k0, int64_t n0, int64_t kc, int64_t nc, float* dst);

}  // namespace gemm_detail
}  // namespace lmflow
