// The fast path of elementwise ops: every operand one dense run of the same float type (f32,
// bf16 or f16) starting on a 16-byte boundary, which is what most ops in a training step see
// (plans.ts coalesces contiguous views to one dimension). Each thread then moves 16 bytes per
// operand at a time with typed loads, instead of the general kernels' per-element index
// arithmetic and runtime dtype switches. Arithmetic is f32, as in the general kernels.
#pragma once

#include <initializer_list>
#include <type_traits>

#include "common.h"

namespace lmcuda {

// f32 <-> E for E one of float, __nv_bfloat16, __half (round to nearest even).
template <typename E>
__device__ __forceinline__ float to_f32(E v) {
  if constexpr (std::is_same_v<E, __nv_bfloat16>) return __bfloat162float(v);
  else if constexpr (std::is_same_v<E, __half>) return __half2float(v);
  else return v;
}
template <typename E>
__device__ __forceinline__ E from_f32(float v) {
  if constexpr (std::is_same_v<E, __nv_bfloat16>) return __float2bfloat16_rn(v);
  else if constexpr (std::is_same_v<E, __half>) return __float2half_rn(v);
  else return v;
}

// Runs f(E{}) with E the element type of float dtype dt: F32, BF16 or F16.
template <typename F>
void with_float_type(int dt, F&& f) {
  if (dt == F32) f(float{});
  else if (dt == BF16) f(__nv_bfloat16{});
  else f(__half{});
}

// out[i] = f(a[i], b[i]) (b unused when NIN is 1).
template <typename E, int NIN, typename F>
__global__ void dense_map_kernel(const E* a, const E* b, E* out, int64_t n, F f) {
  constexpr int V = 16 / sizeof(E);
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  const int64_t first = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  const int64_t nv = n / V;
  for (int64_t i = first; i < nv; i += step) {
    const uint4 x = reinterpret_cast<const uint4*>(a)[i];
    uint4 y = x;
    if (NIN > 1) y = reinterpret_cast<const uint4*>(b)[i];
    uint4 r;
    const E* xe = reinterpret_cast<const E*>(&x);
    const E* ye = reinterpret_cast<const E*>(&y);
    E* re = reinterpret_cast<E*>(&r);
#pragma unroll
    for (int u = 0; u < V; u++) re[u] = from_f32<E>(f(to_f32(xe[u]), to_f32(ye[u])));
    reinterpret_cast<uint4*>(out)[i] = r;
  }
  for (int64_t i = nv * V + first; i < n; i += step) out[i] = from_f32<E>(f(to_f32(a[i]), to_f32(NIN > 1 ? b[i] : a[i])));
}

inline bool dense_run(const View& v, int dtype) {
  if (v.dtype != dtype || reinterpret_cast<uintptr_t>(v.data()) % 16 != 0) return false;
  return v.ndim <= 1 ? (v.ndim == 0 || v.strides[0] == 1 || v.shape[0] == 1) : v.contiguous();
}

// Launches the fast path and returns true, or returns false (nothing done) where an operand
// is not a dense f32/bf16/f16 run of out's dtype.
template <int NIN, typename F>
bool try_dense_map(std::initializer_list<const View*> in, const View& out, F f) {
  const int dt = out.dtype;
  if (dt != F32 && dt != BF16 && dt != F16) return false;
  if (!dense_run(out, dt)) return false;
  for (const View* v : in) {
    if (!dense_run(*v, dt)) return false;
  }
  const View* a = *in.begin();
  const View* b = NIN > 1 ? *(in.begin() + 1) : a;
  const int64_t n = out.numel();
  const unsigned blocks = blocks_for((n + 7) / 8, 256);
  auto launch = [&](auto e) {
    using E = decltype(e);
    dense_map_kernel<E, NIN><<<blocks, 256, 0, stream()>>>(reinterpret_cast<const E*>(a->data()), reinterpret_cast<const E*>(b->data()),
                                                           reinterpret_cast<E*>(out.data()), n, f);
  };
  with_float_type(dt, launch);
  return true;
}

}  // namespace lmcuda
