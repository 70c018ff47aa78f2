// Index kernels along one axis: indexSelect (embedding lookups), indexAdd (their gradient),
// gather and scatterAdd. Additions use atomics (repeated indices add up); an index out of
// range is recorded in the device error word and reported at the next sync (common.h).
#include "device.cuh"
#include "ops.h"

namespace lmcuda {
namespace {

constexpr int kThreads = 256;

__device__ __forceinline__ void atomic_add_as(char* p, int dt, int64_t i, double v) {
  switch (dt) {
    case F32: atomicAdd(reinterpret_cast<float*>(p) + i, static_cast<float>(v)); break;
    case F64: atomicAdd(reinterpret_cast<double*>(p) + i, v); break;
    case BF16: atomicAdd(reinterpret_cast<__nv_bfloat16*>(p) + i, __float2bfloat16_rn(static_cast<float>(v))); break;
    case F16: atomicAdd(reinterpret_cast<__half*>(p) + i, __float2half_rn(static_cast<float>(v))); break;
    case I32: atomicAdd(reinterpret_cast<int*>(p) + i, static_cast<int>(v)); break;
    case I64: atomicAdd(reinterpret_cast<unsigned long long*>(p) + i, static_cast<unsigned long long>(static_cast<long long>(v))); break;
    default: {
      // u8: compare-and-swap on the aligned 32-bit word holding the byte.
      uint8_t* byte = reinterpret_cast<uint8_t*>(p) + i;
      unsigned int* word = reinterpret_cast<unsigned int*>(reinterpret_cast<uintptr_t>(byte) & ~uintptr_t(3));
      const unsigned shift = (reinterpret_cast<uintptr_t>(byte) & 3) * 8;
      unsigned int old = *word, assumed;
      do {
        assumed = old;
        const unsigned int b = ((assumed >> shift) + static_cast<unsigned int>(static_cast<int>(v))) & 0xffu;
        old = atomicCAS(word, assumed, (assumed & ~(0xffu << shift)) | (b << shift));
      } while (assumed != old);
    }
  }
}

// Offset in `target` of the element at the coordinates of linear index i over `shape`, with
// the coordinate along axis replaced by `at`.
__device__ __forceinline__ int64_t remapped(const View& shape, const View& target, int axis, int64_t i, int64_t at) {
  int64_t o = target.offset;
  for (int d = shape.ndim - 1; d >= 0; d--) {
    const int64_t c = i % shape.shape[d];
    i /= shape.shape[d];
    o += (d == axis ? at : c) * target.strides[d];
  }
  return o;
}

// Coordinate along axis of linear index i over shape.
__device__ __forceinline__ int64_t coord(const View& shape, int axis, int64_t i) {
  int64_t inner = 1;
  for (int d = shape.ndim - 1; d > axis; d--) inner *= shape.shape[d];
  return (i / inner) % shape.shape[axis];
}

__global__ void index_select_kernel(View x, int axis, View index, View out, int64_t n, DeviceError* err) {
  LMCUDA_FOR(i, n) {
    const int64_t j = coord(out, axis, i);
    const long long at = load_as<long long>(index.ptr, index.dtype, offset_of(index, j));
    if (at < 0 || at >= x.shape[axis]) {
      report_error(err, kErrIndexSelect, at, j, x.shape[axis]);
      continue;
    }
    const int64_t from = remapped(out, x, axis, i, at);
    store_as<double>(out.ptr, out.dtype, offset_of(out, i), load_as<double>(x.ptr, x.dtype, from));
  }
}

// Same-dtype selection copies bits (exact for i64); the common case of embeddings.
template <typename E>
__global__ void index_select_raw_kernel(View x, int axis, View index, View out, int64_t n, DeviceError* err) {
  LMCUDA_FOR(i, n) {
    const int64_t j = coord(out, axis, i);
    const long long at = load_as<long long>(index.ptr, index.dtype, offset_of(index, j));
    if (at < 0 || at >= x.shape[axis]) {
      report_error(err, kErrIndexSelect, at, j, x.shape[axis]);
      continue;
    }
    reinterpret_cast<E*>(out.ptr)[offset_of(out, i)] = reinterpret_cast<const E*>(x.ptr)[remapped(out, x, axis, i, at)];
  }
}

__global__ void index_add_kernel(View out, int axis, View index, View src, int64_t n, DeviceError* err) {
  LMCUDA_FOR(i, n) {
    const int64_t j = coord(src, axis, i);
    const long long at = load_as<long long>(index.ptr, index.dtype, offset_of(index, j));
    if (at < 0 || at >= out.shape[axis]) {
      report_error(err, kErrIndexAdd, at, j, out.shape[axis]);
      continue;
    }
    atomic_add_as(out.ptr, out.dtype, remapped(src, out, axis, i, at), load_as<double>(src.ptr, src.dtype, offset_of(src, i)));
  }
}

__global__ void gather_kernel(View x, int axis, View index, View out, int64_t n, DeviceError* err) {
  LMCUDA_FOR(i, n) {
    const long long at = load_as<long long>(index.ptr, index.dtype, offset_of(index, i));
    if (at < 0 || at >= x.shape[axis]) {
      report_error(err, kErrGather, at, i, x.shape[axis]);
      continue;
    }
    store_as<double>(out.ptr, out.dtype, offset_of(out, i), load_as<double>(x.ptr, x.dtype, remapped(index, x, axis, i, at)));
  }
}

__global__ void scatter_add_kernel(View out, int axis, View index, View src, int64_t n, DeviceError* err) {
  LMCUDA_FOR(i, n) {
    const long long at = load_as<long long>(index.ptr, index.dtype, offset_of(index, i));
    if (at < 0 || at >= out.shape[axis]) {
      report_error(err, kErrScatterAdd, at, i, out.shape[axis]);
      continue;
    }
    // src is read at the index's coordinates (index may be smaller than src).
    const double v = load_as<double>(src.ptr, src.dtype, remapped(index, src, axis, i, coord(index, axis, i)));
    atomic_add_as(out.ptr, out.dtype, remapped(index, out, axis, i, at), v);
  }
}

}  // namespace

void k_index_select(Args& args) {
  View x = args.view();
  const int axis = static_cast<int>(args.i64());
  View index = args.view();
  View out = args.view();
  const int64_t n = out.numel();
  if (n == 0) return;
  const unsigned blocks = blocks_for(n, kThreads);
  if (x.dtype == out.dtype) {
    switch (item_size(x.dtype)) {
      case 1: index_select_raw_kernel<uint8_t><<<blocks, kThreads, 0, stream()>>>(x, axis, index, out, n, device_error_slot()); break;
      case 2: index_select_raw_kernel<uint16_t><<<blocks, kThreads, 0, stream()>>>(x, axis, index, out, n, device_error_slot()); break;
      case 4: index_select_raw_kernel<uint32_t><<<blocks, kThreads, 0, stream()>>>(x, axis, index, out, n, device_error_slot()); break;
      default: index_select_raw_kernel<uint64_t><<<blocks, kThreads, 0, stream()>>>(x, axis, index, out, n, device_error_slot()); break;
    }
  } else {
    index_select_kernel<<<blocks, kThreads, 0, stream()>>>(x, axis, index, out, n, device_error_slot());
  }
  check_launch("indexSelect");
}

void k_index_add(Args& args) {
  View out = args.view();
  const int axis = static_cast<int>(args.i64());
  View index = args.view();
  View src = args.view();
  const int64_t n = src.numel();
  if (n == 0) return;
  index_add_kernel<<<blocks_for(n, kThreads), kThreads, 0, stream()>>>(out, axis, index, src, n, device_error_slot());
  check_launch("indexAdd");
}

void k_gather(Args& args) {
  View x = args.view();
  const int axis = static_cast<int>(args.i64());
  View index = args.view();
  View out = args.view();
  const int64_t n = out.numel();
  if (n == 0) return;
  gather_kernel<<<blocks_for(n, kThreads), kThreads, 0, stream()>>>(x, axis, index, out, n, device_error_slot());
  check_launch("gather");
}

void k_scatter_add(Args& args) {
  View out = args.view();
  const int axis = static_cast<int>(args.i64());
  View index = args.view();
  View src = args.view();
  for (int d = 0; d < index.ndim; d++) {
    if (index.shape[d] > src.shape[d]) {
      fail("scatterAdd: index has shape " + index.describe() + " but src has shape " + src.describe() + "; index must be no larger in every dimension");
    }
  }
  const int64_t n = index.numel();
  if (n == 0) return;
  scatter_add_kernel<<<blocks_for(n, kThreads), kThreads, 0, stream()>>>(out, axis, index, src, n, device_error_slot());
  check_launch("scatterAdd");
}

}  // namespace lmcuda
