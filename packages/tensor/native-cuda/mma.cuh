// Tensor-core matrix products from CUDA C++: the warp-level mma.sync m16n8k16 instruction (bf16
// or f16 inputs, f32 accumulation; sm_80 and newer), and the fragment layout it implies.
//
// Lane l of a warp has g = l / 4 (its "group") and c = l % 4. For D (16x8, f32) += A (16x16) B (16x8):
//   A, 4 registers of 2 halves:  a[0] = A[g][2c..2c+1]    a[1] = A[g+8][2c..2c+1]
//                                a[2] = A[g][2c+8..2c+9]  a[3] = A[g+8][2c+8..2c+9]
//   B, 2 registers:              b0 = B[2c..2c+1][g]      b1 = B[2c+8..2c+9][g]
//   D, 4 floats:                 d[0..1] = D[g][2c..2c+1] d[2..3] = D[g+8][2c..2c+1]
// (the lower column or row index in the lower 16 bits). So B is read from an N x K row-major
// array exactly as A rows are, and two adjacent D tiles (columns 0-7 and 8-15) hold, in the
// same lanes, what an A fragment of those 16 columns needs: a result feeds the next product
// without leaving registers (FlashAttention's P @ V).
#pragma once

#include <type_traits>

#include "common.h"

namespace lmcuda {

template <typename T>
__device__ __forceinline__ void mma_16816(float d[4], const uint32_t a[4], uint32_t b0, uint32_t b1) {
  static_assert(std::is_same_v<T, __nv_bfloat16> || std::is_same_v<T, __half>, "bf16 or f16 inputs");
  if constexpr (std::is_same_v<T, __nv_bfloat16>) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  } else {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
}

// Two floats rounded to a pair of halves (lo in the lower 16 bits).
template <typename T>
__device__ __forceinline__ uint32_t pack_pair(float lo, float hi);
template <>
__device__ __forceinline__ uint32_t pack_pair<__nv_bfloat16>(float lo, float hi) {
  __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
  return *reinterpret_cast<uint32_t*>(&v);
}
template <>
__device__ __forceinline__ uint32_t pack_pair<__half>(float lo, float hi) {
  __half2 v = __floats2half2_rn(lo, hi);
  return *reinterpret_cast<uint32_t*>(&v);
}

// Two adjacent halves as one register (p must be 4-byte aligned).
template <typename T>
__device__ __forceinline__ uint32_t load_pair(const T* p) {
  return *reinterpret_cast<const uint32_t*>(p);
}

// An A fragment from rows r and r+8 of a row-major array (stride in elements), columns k0..k0+15.
template <typename T>
__device__ __forceinline__ void load_a(uint32_t a[4], const T* base, int stride, int r, int k0, int g, int c) {
  a[0] = load_pair(base + (r + g) * stride + k0 + 2 * c);
  a[1] = load_pair(base + (r + g + 8) * stride + k0 + 2 * c);
  a[2] = load_pair(base + (r + g) * stride + k0 + 8 + 2 * c);
  a[3] = load_pair(base + (r + g + 8) * stride + k0 + 8 + 2 * c);
}

// The shared-memory address (the state space's own, 32 bits) of a generic pointer into it.
__device__ __forceinline__ uint32_t smem_u32(const void* p) { return static_cast<uint32_t>(__cvta_generic_to_shared(p)); }

// ldmatrix: four 8x8 tiles of 16-bit elements from shared memory, lane L giving the address of
// row L % 8 of tile L / 8 (16-byte aligned rows). Lane (g, c) receives elements (g, 2c..2c+1) of
// each tile, or with .trans elements (2c..2c+1, g), i.e. of the transposed tile.
__device__ __forceinline__ void ldsm_x4(uint32_t r[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n" : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(smem_u32(p)));
}
__device__ __forceinline__ void ldsm_x4_trans(uint32_t r[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n" : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(smem_u32(p)));
}

// The A fragment of rows m0..m0+15, columns k0..k0+15 of a row-major shared array.
template <typename T>
__device__ __forceinline__ void ldsm_a(uint32_t a[4], const T* base, int stride, int m0, int k0, int lane) {
  const int i = lane >> 3, r = lane & 7;
  ldsm_x4(a, base + (m0 + (i & 1) * 8 + r) * stride + k0 + (i >> 1) * 8);
}

// B fragments (b[0], b[1] of n-tile n0; b[2], b[3] of n-tile n0 + 1) for k0..k0+15 where
// B(k, n) = X[n][k], X a row-major shared array whose rows are the n index (K for Q K^T).
template <typename T>
__device__ __forceinline__ void ldsm_b_rows_n(uint32_t b[4], const T* x, int stride, int n0, int k0, int lane) {
  const int i = lane >> 3, r = lane & 7;
  ldsm_x4(b, x + ((n0 + (i >> 1)) * 8 + r) * stride + k0 + (i & 1) * 8);
}

// The same where B(k, n) = X[k][n], X's rows being the k index (V for P V): through .trans.
template <typename T>
__device__ __forceinline__ void ldsm_b_rows_k(uint32_t b[4], const T* x, int stride, int n0, int k0, int lane) {
  const int i = lane >> 3, r = lane & 7;
  ldsm_x4_trans(b, x + (k0 + (i & 1) * 8 + r) * stride + (n0 + (i >> 1)) * 8);
}

// 16 bytes global -> shared without passing through registers (sm_80+); zeros when !valid.
__device__ __forceinline__ void cp_async_16(void* dst, const void* src, bool valid) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_u32(dst)), "l"(src), "r"(valid ? 16 : 0));
}
// The same for 4 bytes (through L1).
__device__ __forceinline__ void cp_async_4(void* dst, const void* src, bool valid) {
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(smem_u32(dst)), "l"(src), "r"(valid ? 4 : 0));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
template <int N>
__device__ __forceinline__ void cp_async_wait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory"); }
// Waits for all of this thread's copies, also those an mbarrier tracks (which join no group).
__device__ __forceinline__ void cp_async_wait_all() { asm volatile("cp.async.wait_all;\n" ::: "memory"); }

// 2^x on the special-function unit with results below 2^-126 flushed to zero: exp2f wraps the
// same instruction in range handling for those results (three more instructions per call), which
// softmax weights never need.
__device__ __forceinline__ float ex2_ftz(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
  return y;
}

// The A fragment of columns 16*kk..16*kk+15 from accumulator tiles acc[2kk] and acc[2kk+1].
template <typename T>
__device__ __forceinline__ void acc_to_a(uint32_t a[4], const float lo[4], const float hi[4]) {
  a[0] = pack_pair<T>(lo[0], lo[1]);
  a[1] = pack_pair<T>(lo[2], lo[3]);
  a[2] = pack_pair<T>(hi[0], hi[1]);
  a[3] = pack_pair<T>(hi[2], hi[3]);
}

}  // namespace lmcuda
