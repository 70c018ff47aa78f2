// Walking several same-shaped strided views in lockstep, row-major.
//
// A Plan first drops size-1 dimensions and merges adjacent dimensions that are contiguous
// with each other in every operand (a contiguous (B, T, C) tensor becomes one run of B*T*C
// elements; a (B, T, C) + (C) broadcast becomes B*T runs of C). Kernels then work on "runs":
// stretches of the innermost dimension, where each operand advances by a fixed stride.
#pragma once

#include <algorithm>
#include <cstdint>

#include "common/napi-view.h"

namespace lmflow {
namespace ew {

// Elements at or above which a kernel splits its work over the thread pool, and the
// smallest piece one thread takes.
constexpr int64_t kParallelThreshold = 32768;
constexpr int64_t kParallelGrain = 16384;

template <int N>
struct Plan {
  int ndim = 1;
  int64_t numel = 1;
  int64_t shape[kMaxDims] = {1};
  int64_t strides[N][kMaxDims] = {};  // in elements
  char* base[N] = {};                 // address of each operand's first element
  int esize[N] = {};

  int64_t inner_stride(int k) const { return strides[k][ndim - 1]; }
};

// All views must have the same shape (checked by the caller).
template <int N>
Plan<N> make_plan(const View* const* views) {
  Plan<N> p;
  const View& first = *views[0];
  for (int k = 0; k < N; ++k) {
    p.base[k] = static_cast<char*>(views[k]->byte_ptr());
    p.esize[k] = dtype_size(views[k]->dtype);
  }
  p.numel = first.numel();
  int nd = 0;
  for (int d = 0; d < first.ndim; ++d) {
    if (first.shape[d] == 1) continue;
    bool merge = nd > 0;
    for (int k = 0; k < N && merge; ++k) {
      merge = p.strides[k][nd - 1] == views[k]->strides[d] * first.shape[d];
    }
    if (merge) {
      p.shape[nd - 1] *= first.shape[d];
      for (int k = 0; k < N; ++k) p.strides[k][nd - 1] = views[k]->strides[d];
    } else {
      p.shape[nd] = first.shape[d];
      for (int k = 0; k < N; ++k) p.strides[k][nd] = views[k]->strides[d];
      ++nd;
    }
  }
  if (nd == 0) {
    p.shape[0] = 1;
    for (int k = 0; k < N; ++k) p.strides[k][0] = 0;
    nd = 1;
  }
  p.ndim = nd;
  return p;
}

// A position in a Plan: the multi-index and each operand's address there.
template <int N>
struct Cursor {
  const Plan<N>* plan;
  int64_t index[kMaxDims];
  char* ptr[N];

  Cursor(const Plan<N>& p, int64_t flat) : plan(&p) {
    for (int k = 0; k < N; ++k) ptr[k] = p.base[k];
    for (int d = p.ndim - 1; d >= 0; --d) {
      index[d] = flat % p.shape[d];
      flat /= p.shape[d];
      for (int k = 0; k < N; ++k) ptr[k] += index[d] * p.strides[k][d] * p.esize[k];
    }
  }

  // Elements left in the current run (innermost dimension).
  int64_t run_left() const { return plan->shape[plan->ndim - 1] - index[plan->ndim - 1]; }

  // Moves n elements forward; n <= run_left().
  void advance(int64_t n) {
    const Plan<N>& p = *plan;
    int d = p.ndim - 1;
    index[d] += n;
    for (int k = 0; k < N; ++k) ptr[k] += n * p.strides[k][d] * p.esize[k];
    while (index[d] == p.shape[d] && d > 0) {
      for (int k = 0; k < N; ++k) ptr[k] -= p.shape[d] * p.strides[k][d] * p.esize[k];
      index[d] = 0;
      --d;
      ++index[d];
      for (int k = 0; k < N; ++k) ptr[k] += p.strides[k][d] * p.esize[k];
    }
  }
};

// Calls fn(ptrs, count, inner_strides) for every run intersecting flat elements [begin, end).
template <int N, typename Fn>
void for_each_run(const Plan<N>& p, int64_t begin, int64_t end, Fn&& fn) {
  if (begin >= end) return;
  Cursor<N> cur(p, begin);
  int64_t strides[N];
  for (int k = 0; k < N; ++k) strides[k] = p.inner_stride(k);
  int64_t pos = begin;
  while (pos < end) {
    int64_t n = std::min(cur.run_left(), end - pos);
    fn(cur.ptr, n, strides);
    cur.advance(n);
    pos += n;
  }
}

}  // namespace ew
}  // namespace lmflow
