// Device-side helpers: typed loads and stores by runtime dtype, strided offsets, block
// reductions. Float tensors compute in f32 (f64 tensors and integers in double, as the
// reference computes integers: exact up to 2^53, truncated toward zero when stored).
#pragma once

#include "common.h"

#include <cfloat>
#include <cmath>

namespace lmcuda {

template <typename T>
__device__ __forceinline__ T load_as(const char* p, int dt, int64_t i) {
  switch (dt) {
    case F32: return static_cast<T>(reinterpret_cast<const float*>(p)[i]);
    case BF16: return static_cast<T>(__bfloat162float(reinterpret_cast<const __nv_bfloat16*>(p)[i]));
    case F16: return static_cast<T>(__half2float(reinterpret_cast<const __half*>(p)[i]));
    case I32: return static_cast<T>(reinterpret_cast<const int32_t*>(p)[i]);
    case I64: return static_cast<T>(reinterpret_cast<const long long*>(p)[i]);
    case U8: return static_cast<T>(reinterpret_cast<const uint8_t*>(p)[i]);
    default: return static_cast<T>(reinterpret_cast<const double*>(p)[i]);
  }
}

// Truncation toward zero for integers; NaN stores as 0 (C++ leaves it undefined).
template <typename T>
__device__ __forceinline__ long long to_int(T v) {
  return v != v ? 0LL : static_cast<long long>(v);
}

template <typename T>
__device__ __forceinline__ void store_as(char* p, int dt, int64_t i, T v) {
  switch (dt) {
    case F32: reinterpret_cast<float*>(p)[i] = static_cast<float>(v); break;
    case BF16: reinterpret_cast<__nv_bfloat16*>(p)[i] = __float2bfloat16_rn(static_cast<float>(v)); break;
    case F16: reinterpret_cast<__half*>(p)[i] = __float2half_rn(static_cast<float>(v)); break;
    case I32: reinterpret_cast<int32_t*>(p)[i] = static_cast<int32_t>(to_int(v)); break;
    case I64: reinterpret_cast<long long*>(p)[i] = to_int(v); break;
    case U8: reinterpret_cast<uint8_t*>(p)[i] = static_cast<uint8_t>(to_int(v)); break;
    default: reinterpret_cast<double*>(p)[i] = static_cast<double>(v); break;
  }
}

// Element offset (from the base pointer) of linear index i of a view, row-major over its shape.
__device__ __forceinline__ int64_t offset_of(const View& v, int64_t i) {
  int64_t o = v.offset;
  for (int d = v.ndim - 1; d >= 0; d--) {
    const int64_t s = v.shape[d];
    o += (i % s) * v.strides[d];
    i /= s;
  }
  return o;
}

template <typename T>
__device__ __forceinline__ T warp_sum(T v) {
  for (int m = 16; m > 0; m >>= 1) v += __shfl_xor_sync(0xffffffffu, v, m);
  return v;
}
template <typename T>
__device__ __forceinline__ T warp_max(T v) {
  for (int m = 16; m > 0; m >>= 1) v = fmax(v, __shfl_xor_sync(0xffffffffu, v, m));
  return v;
}

// Sum over the block (blockDim.x a multiple of 32, at most 1024); every thread gets the result.
template <typename T>
__device__ T block_sum(T v) {
  __shared__ T partial[32];
  __syncthreads();  // partial may still be read by a previous call
  v = warp_sum(v);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  const int warps = (blockDim.x + 31) >> 5;
  T r = lane < warps ? partial[lane] : T(0);
  return warp_sum(r);
}
template <typename T>
__device__ T block_max(T v) {
  __shared__ T partial[32];
  __syncthreads();
  v = warp_max(v);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  const int warps = (blockDim.x + 31) >> 5;
  T r = lane < warps ? partial[lane] : T(-INFINITY);
  return warp_max(r);
}

// Records the first bad value a kernel finds (see DeviceError in common.h).
__device__ __forceinline__ void report_error(DeviceError* slot, int code, int64_t value, int64_t where, int64_t limit) {
  if (atomicCAS(&slot->code, 0, code) == 0) {
    slot->value = value;
    slot->where = where;
    slot->limit = limit;
  }
}

// Grid-stride loop over n items.
#define LMCUDA_FOR(i, n) \
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < (n); i += static_cast<int64_t>(gridDim.x) * blockDim.x)

}  // namespace lmcuda
