// The engine behind unary, binary, compare and scalar: walks the operands in tiles of up to
// kTile elements, gives a compute kernel dense arrays in the compute type C (float for the
// f32 family, double otherwise) and writes its results back in the output's dtype.
//
// A run that is already contiguous in the compute type is handed to the kernel in place (no
// copy: the f32 fast path); other runs are converted or gathered into small per-thread
// buffers that stay in L1. Tiles are independent, so large tensors split over the pool.
#pragma once

#include <cstdint>

#include "common/thread-pool.h"
#include "convert.h"
#include "strided.h"

namespace lmflow {
namespace ew {

constexpr int64_t kTile = 1024;

template <typename C>
constexpr DType dtype_of() {
  if constexpr (std::is_same_v<C, float>) return DType::kF32;
  else if constexpr (std::is_same_v<C, double>) return DType::kF64;
  else return DType::kU8;
}

// n elements of a run (dtype d, element stride) as dense C values: the run itself when it
// is contiguous C already, else `buf` filled with converted values.
template <typename C>
const C* load_run(DType d, const char* p, int64_t stride, int64_t n, C* buf);

// Writes n dense values into a run of dtype d, converting.
template <typename O>
void store_run(const O* values, DType d, char* p, int64_t stride, int64_t n);

// out = kernel(inputs) elementwise. kernel(const C* const in[NIn], O* out, int64_t n) works on
// dense arrays (out may alias an input when an operand is updated in place). All views have
// out's shape (broadcast inputs arrive as stride-0 views).
template <int NIn, typename C, typename O, typename Kernel>
void run_tiled(const View* const* inputs, const View& out, Kernel&& kernel) {
  constexpr int N = NIn + 1;
  const View* views[N];
  for (int k = 0; k < NIn; ++k) views[k] = inputs[k];
  views[NIn] = &out;
  const Plan<N> plan = make_plan<N>(views);
  if (plan.numel == 0) return;
  DType dtypes[N];
  for (int k = 0; k < N; ++k) dtypes[k] = views[k]->dtype;
  const int last = plan.ndim - 1;

  auto body = [&](int64_t begin, int64_t end) {
    alignas(64) C in_buf[NIn][kTile];
    alignas(64) O out_buf[kTile];
    const C* in[NIn];
    Cursor<N> cur(plan, begin);
    for (int64_t pos = begin; pos < end;) {
      int64_t n = std::min<int64_t>(kTile, end - pos);
      if (cur.run_left() >= n) {
        // The tile lies in one run: each operand is a (strided) slice of its own memory.
        for (int k = 0; k < NIn; ++k) in[k] = load_run<C>(dtypes[k], cur.ptr[k], plan.strides[k][last], n, in_buf[k]);
        const int64_t out_stride = plan.strides[NIn][last];
        bool direct = dtypes[NIn] == dtype_of<O>() && out_stride == 1;
        O* dst = direct ? reinterpret_cast<O*>(cur.ptr[NIn]) : out_buf;
        kernel(in, dst, n);
        if (!direct) store_run<O>(out_buf, dtypes[NIn], cur.ptr[NIn], out_stride, n);
        cur.advance(n);
      } else {
        // Short runs: gather every input into its buffer, compute once, scatter the output.
        Cursor<N> start = cur;
        for (int64_t done = 0; done < n;) {
          int64_t m = std::min(cur.run_left(), n - done);
          for (int k = 0; k < NIn; ++k) {
            const C* src = load_run<C>(dtypes[k], cur.ptr[k], plan.strides[k][last], m, in_buf[k] + done);
            if (src != in_buf[k] + done) std::copy(src, src + m, in_buf[k] + done);
          }
          cur.advance(m);
          done += m;
        }
        for (int k = 0; k < NIn; ++k) in[k] = in_buf[k];
        kernel(in, out_buf, n);
        cur = start;
        for (int64_t done = 0; done < n;) {
          int64_t m = std::min(cur.run_left(), n - done);
          store_run<O>(out_buf + done, dtypes[NIn], cur.ptr[NIn], plan.strides[NIn][last], m);
          cur.advance(m);
          done += m;
        }
      }
      pos += n;
    }
  };
  if (plan.numel >= kParallelThreshold) parallel_for(plan.numel, kParallelGrain, body);
  else body(0, plan.numel);
}

}  // namespace ew
}  // namespace lmflow
