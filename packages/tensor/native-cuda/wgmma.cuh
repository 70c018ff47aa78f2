// Hopper's warpgroup matrix products (wgmma.mma_async, sm_90a): a warpgroup of 4 warps (128
// threads) multiplies a 64 x 16 tile of A by a 16 x N tile of B into a 64 x N f32 accumulator,
// asynchronously, with B (and A, or A from registers) read by the tensor cores straight from
// shared memory through 64-bit descriptors. The accumulator layout per warp is mma.sync's
// m16n8 layout repeated over N / 8 column tiles (warp w owns rows 16w..16w+15; lane (g, c) holds
// d[j][0..1] = D[16w + g][8j + 2c..+1] and d[j][2..3] = D[16w + g + 8][8j + 2c..+1]); A from
// registers is mma.sync's A fragment of the warp's 16 rows. So the softmax and fragment helpers
// of the mma.sync kernels apply unchanged.
//
// Shared-memory tiles use the 128-byte swizzle: a tile of R rows and C (a multiple of 64)
// 16-bit columns is stored as C / 64 column blocks of R rows of 128 bytes, each row's eight
// 16-byte chunks permuted by XOR with the row's index mod 8 (tile bases 1024-byte aligned). The
// same tile serves as a K-major operand (rows are M or N, columns K) and as an MN-major one
// (rows are K: the .trans forms), which is what lets K, Q and dO each sit in shared memory once
// for every product of the attention backward.
#pragma once

#include <cstdint>

#include "common.h"

namespace lmcuda {

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define LMCUDA_WGMMA 1
#endif

// The element offset of (row, col) in a swizzled tile of `rows` rows: row * 64 plus a part that
// repeats every 8 rows (the column block and the 16-byte chunk's place in the permuted row).
__device__ __forceinline__ int sw128_within(int row, int col, int rows) {
  return (col >> 6) * rows * 64 + ((((col >> 3) & 7) ^ (row & 7)) << 3) + (col & 7);
}
__device__ __forceinline__ int sw128(int row, int col, int rows) { return row * 64 + sw128_within(row, col, rows); }

// The descriptor of a swizzled operand starting at p: sbo is the byte distance between groups
// of 8 rows (8 x 128 bytes in these tiles), lbo the distance between 64-column blocks where
// the hardware steps over them (MN-major operands wider than 64).
__device__ __forceinline__ uint64_t sw128_desc(const void* p, uint32_t lbo, uint32_t sbo) {
  const uint32_t a = static_cast<uint32_t>(__cvta_generic_to_shared(p));
  return static_cast<uint64_t>((a & 0x3FFFF) >> 4) | (static_cast<uint64_t>((lbo & 0x3FFFF) >> 4) << 16) |
         (static_cast<uint64_t>((sbo & 0x3FFFF) >> 4) << 32) | (1ull << 62);
}

#ifdef LMCUDA_WGMMA
__device__ __forceinline__ void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wgmma_commit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
template <int N>
__device__ __forceinline__ void wgmma_wait() { asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory"); }
// Writes by threads to shared memory become visible to the tensor cores' reads (the async proxy).
__device__ __forceinline__ void fence_async_smem() { asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory"); }
#else
__device__ __forceinline__ void wgmma_fence() { __trap(); }
__device__ __forceinline__ void wgmma_commit() { __trap(); }
template <int N>
__device__ __forceinline__ void wgmma_wait() { __trap(); }
__device__ __forceinline__ void fence_async_smem() { __trap(); }
#endif

// Keeps the compiler from moving reads or writes of an accumulator (or reusing the registers
// of an A operand) across the asynchronous products that own its registers.
template <int NT>
__device__ __forceinline__ void pin(float (&d)[NT][4]) {
#pragma unroll
  for (int j = 0; j < NT; j++) asm volatile("" : "+f"(d[j][0]), "+f"(d[j][1]), "+f"(d[j][2]), "+f"(d[j][3])::"memory");
}
template <int NT>
__device__ __forceinline__ void pin(uint32_t (&a)[NT][4]) {
#pragma unroll
  for (int j = 0; j < NT; j++) asm volatile("" : "+r"(a[j][0]), "+r"(a[j][1]), "+r"(a[j][2]), "+r"(a[j][3])::"memory");
}

// d (64 x N) (+)= A (64 x 16) B (16 x N). ss: A and B from descriptors, TA / TB = 1 for an
// MN-major operand; ss_first: the same overwriting d (its old values are no input, so its
// registers are free until the call); rs: A from registers. accumulate = 0 overwrites d.
template <typename T, int N>
struct Wgmma;

#ifdef LMCUDA_WGMMA
// Inline assembly takes no register ranges and nvcc no named operands, so the accumulator's
// registers are listed one by one (LMCUDA_WGMMA_ACC<N>(C): its operand list with constraint
// "+f" or "=f"), and the numbers of the other operands depend on N (I0..I6: the first seven
// after the accumulator's). One definition per N and element type (DT: "bf16" or "f16").
#define LMCUDA_WGMMA_RW(x) "+f"(x)
#define LMCUDA_WGMMA_W(x) "=f"(x)
#define LMCUDA_WGMMA_TILE(C, j) C(d[j][0]), C(d[j][1]), C(d[j][2]), C(d[j][3])
#define LMCUDA_WGMMA_TILES4(C, j) LMCUDA_WGMMA_TILE(C, j), LMCUDA_WGMMA_TILE(C, j + 1), LMCUDA_WGMMA_TILE(C, j + 2), LMCUDA_WGMMA_TILE(C, j + 3)
#define LMCUDA_WGMMA_ACC32(C) LMCUDA_WGMMA_TILES4(C, 0)
#define LMCUDA_WGMMA_ACC64(C) LMCUDA_WGMMA_TILES4(C, 0), LMCUDA_WGMMA_TILES4(C, 4)
#define LMCUDA_WGMMA_ACC128(C) LMCUDA_WGMMA_TILES4(C, 0), LMCUDA_WGMMA_TILES4(C, 4), LMCUDA_WGMMA_TILES4(C, 8), LMCUDA_WGMMA_TILES4(C, 12)
#define LMCUDA_WGMMA_REGS32 "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15}"
#define LMCUDA_WGMMA_REGS64 "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31}"
#define LMCUDA_WGMMA_REGS128 "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}"
#define LMCUDA_WGMMA_OP(N, DT) "wgmma.mma_async.sync.aligned.m64n" #N "k16.f32." DT "." DT " " LMCUDA_WGMMA_REGS##N
#define LMCUDA_WGMMA_STRUCT(T, DT, N, I0, I1, I2, I3, I4, I5, I6)                                                          \
  template <>                                                                                                              \
  struct Wgmma<T, N> {                                                                                                     \
    template <int TA, int TB>                                                                                              \
    static __device__ __forceinline__ void ss(float (&d)[N / 8][4], uint64_t a, uint64_t b, int accumulate) {              \
      asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, " I2 ", 0;\n" LMCUDA_WGMMA_OP(N, DT) ", " I0 ", " I1 ", p, 1, 1, " I3 \
                   ", " I4 ";\n}\n"                                                                                        \
                   : LMCUDA_WGMMA_ACC##N(LMCUDA_WGMMA_RW)                                                                  \
                   : "l"(a), "l"(b), "r"(accumulate), "n"(TA), "n"(TB));                                                   \
    }                                                                                                                      \
    template <int TA, int TB>                                                                                              \
    static __device__ __forceinline__ void ss_first(float (&d)[N / 8][4], uint64_t a, uint64_t b) {                        \
      asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, " I4 ", 0;\n" LMCUDA_WGMMA_OP(N, DT) ", " I0 ", " I1 ", p, 1, 1, " I2 \
                   ", " I3 ";\n}\n"                                                                                        \
                   : LMCUDA_WGMMA_ACC##N(LMCUDA_WGMMA_W)                                                                   \
                   : "l"(a), "l"(b), "n"(TA), "n"(TB), "r"(0));                                                            \
    }                                                                                                                      \
    template <int TB>                                                                                                      \
    static __device__ __forceinline__ void rs(float (&d)[N / 8][4], const uint32_t (&a)[4], uint64_t b, int accumulate) {  \
      asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, " I5 ", 0;\n" LMCUDA_WGMMA_OP(N, DT) ", {" I0 ", " I1 ", " I2 ", " I3 \
                   "}, " I4 ", p, 1, 1, " I6 ";\n}\n"                                                                      \
                   : LMCUDA_WGMMA_ACC##N(LMCUDA_WGMMA_RW)                                                                  \
                   : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b), "r"(accumulate), "n"(TB));                        \
    }                                                                                                                      \
  };
#define LMCUDA_WGMMA_TYPE(T, DT)                                                   \
  LMCUDA_WGMMA_STRUCT(T, DT, 32, "%16", "%17", "%18", "%19", "%20", "%21", "%22")  \
  LMCUDA_WGMMA_STRUCT(T, DT, 64, "%32", "%33", "%34", "%35", "%36", "%37", "%38")  \
  LMCUDA_WGMMA_STRUCT(T, DT, 128, "%64", "%65", "%66", "%67", "%68", "%69", "%70")
LMCUDA_WGMMA_TYPE(__nv_bfloat16, "bf16")
LMCUDA_WGMMA_TYPE(__half, "f16")

#else
template <typename T, int N>
struct Wgmma {
  template <int TA, int TB>
  static __device__ __forceinline__ void ss(float (&)[N / 8][4], uint64_t, uint64_t, int) { __trap(); }
  template <int TA, int TB>
  static __device__ __forceinline__ void ss_first(float (&)[N / 8][4], uint64_t, uint64_t) { __trap(); }
  template <int TB>
  static __device__ __forceinline__ void rs(float (&)[N / 8][4], const uint32_t (&)[4], uint64_t, int) { __trap(); }
};
#endif

}  // namespace lmcuda
