// fill(out, value) and copy(src, out): any strides on both sides, every dtype pair.
// Same-dtype copies move raw elements (exact for every dtype, i64 included); conversions go
// through f32 within the f32 family and through double otherwise, as the reference does.
#include <napi.h>

#include <cstring>

#include "args.h"
#include "tile.h"

namespace lmflow {
namespace ew {
namespace {

// Calls fn(T{}) with the unsigned integer type as wide as one element.
template <typename Fn>
void visit_width(int esize, Fn&& fn) {
  switch (esize) {
    case 1: return fn(uint8_t{});
    case 2: return fn(uint16_t{});
    case 4: return fn(uint32_t{});
    default: return fn(uint64_t{});
  }
}

// Runs fn over [0, n) elements, on the pool when there is enough work.
template <typename Fn>
void maybe_parallel(int64_t n, Fn&& fn) {
  if (n >= kParallelThreshold) parallel_for(n, kParallelGrain, fn);
  else fn(0, n);
}

void fill(const View& out, double value) {
  const View* views[1] = {&out};
  const Plan<1> plan = make_plan<1>(views);
  if (plan.numel == 0) return;
  // The value in out's dtype, as raw bits.
  uint64_t bits = 0;
  visit_dtype(out.dtype, [&](auto tag) {
    constexpr DType D = decltype(tag)::value;
    typename Elem<D>::T v = store_from<D, double>(value);
    std::memcpy(&bits, &v, sizeof(v));
  });
  visit_width(plan.esize[0], [&](auto zero) {
    using T = decltype(zero);
    T v;
    std::memcpy(&v, &bits, sizeof(T));
    maybe_parallel(plan.numel, [&](int64_t begin, int64_t end) {
      for_each_run(plan, begin, end, [&](char* const* p, int64_t n, const int64_t* s) {
        T* dst = reinterpret_cast<T*>(p[0]);
        if (s[0] == 1) std::fill(dst, dst + n, v);
        else for (int64_t i = 0; i < n; ++i) dst[i * s[0]] = v;
      });
    });
  });
}

// The last two dimensions swapped between src and out (a transpose being made contiguous).
// Walking either side with a large power-of-two stride maps every line to the same cache
// set, so the copy goes in 8x8 blocks (8 lines per side stay within L1's ways) inside
// 128x128 tiles (which stay in L2): about 10x faster than 32x32 blocks on a 4096-wide matrix.
template <typename T>
bool copy_transposed(const Plan<2>& plan) {
  const int nd = plan.ndim;
  if (nd < 2) return false;
  const int64_t rows = plan.shape[nd - 2], cols = plan.shape[nd - 1];
  const int64_t s_row = plan.strides[0][nd - 2], s_col = plan.strides[0][nd - 1];
  const int64_t o_row = plan.strides[1][nd - 2], o_col = plan.strides[1][nd - 1];
  if (s_row != 1 || o_col != 1 || rows < 16 || cols < 16) return false;
  constexpr int64_t kTileSide = 128, kMicro = 8;
  const int64_t outer = plan.numel / (rows * cols);
  const int64_t row_tiles = (rows + kTileSide - 1) / kTileSide;
  auto task = [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      int64_t o = t / row_tiles, r_tile = (t % row_tiles) * kTileSide;
      // Offsets of outer index o in both operands.
      int64_t src_off = 0, out_off = 0, rest = o;
      for (int d = nd - 3; d >= 0; --d) {
        int64_t i = rest % plan.shape[d];
        rest /= plan.shape[d];
        src_off += i * plan.strides[0][d];
        out_off += i * plan.strides[1][d];
      }
      const T* src = reinterpret_cast<const T*>(plan.base[0]) + src_off;
      T* dst = reinterpret_cast<T*>(plan.base[1]) + out_off;
      const int64_t r_end = std::min(rows, r_tile + kTileSide);
      for (int64_t c_tile = 0; c_tile < cols; c_tile += kTileSide) {
        const int64_t c_end = std::min(cols, c_tile + kTileSide);
        for (int64_t r0 = r_tile; r0 < r_end; r0 += kMicro) {
          const int64_t r1 = std::min(r_end, r0 + kMicro);
          for (int64_t c0 = c_tile; c0 < c_end; c0 += kMicro) {
            const int64_t c1 = std::min(c_end, c0 + kMicro);
            for (int64_t r = r0; r < r1; ++r) {
              for (int64_t c = c0; c < c1; ++c) dst[r * o_row + c] = src[r + c * s_col];
            }
          }
        }
      }
    }
  };
  const int64_t tasks = outer * row_tiles;
  if (plan.numel >= kParallelThreshold) parallel_for(tasks, 1, task);
  else task(0, tasks);
  return true;
}

void copy_raw(const Plan<2>& plan) {
  visit_width(plan.esize[0], [&](auto zero) {
    using T = decltype(zero);
    if (copy_transposed<T>(plan)) return;
    maybe_parallel(plan.numel, [&](int64_t begin, int64_t end) {
      for_each_run(plan, begin, end, [&](char* const* p, int64_t n, const int64_t* s) {
        const T* src = reinterpret_cast<const T*>(p[0]);
        T* dst = reinterpret_cast<T*>(p[1]);
        if (s[0] == 1 && s[1] == 1) std::memmove(dst, src, n * sizeof(T));
        else for (int64_t i = 0; i < n; ++i) dst[i * s[1]] = src[i * s[0]];
      });
    });
  });
}

template <typename C>
void copy_convert(const View& src, const View& out) {
  const View* in[1] = {&src};
  // The kernel only moves values: load_run/store_run do the conversions.
  run_tiled<1, C, C>(in, out, [](const C* const* s, C* d, int64_t n) {
    if (d != s[0]) std::memcpy(d, s[0], n * sizeof(C));
  });
}

Napi::Value FillFn(const Napi::CallbackInfo& info) {
  View out = view_arg(info, 0, "fill", "out");
  fill(out, number_arg(info, 1, "fill", "value"));
  return info.Env().Undefined();
}

Napi::Value CopyFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  View src = view_arg(info, 0, "copy", "src");
  View out = view_arg(info, 1, "copy", "out");
  require_same_shape(env, "copy", "src", src, "out", out);
  if (src.dtype == out.dtype) {
    const View* views[2] = {&src, &out};
    const Plan<2> plan = make_plan<2>(views);
    if (plan.numel > 0) copy_raw(plan);
  } else if (is_f32_family(src.dtype) && is_f32_family(out.dtype)) {
    copy_convert<float>(src, out);
  } else {
    copy_convert<double>(src, out);
  }
  return env.Undefined();
}

}  // namespace

void RegisterLayout(Napi::Env env, Napi::Object exports) {
  exports.Set("fill", Napi::Function::New(env, FillFn));
  exports.Set("copy", Napi::Function::New(env, CopyFn));
}

}  // namespace ew
}  // namespace lmflow
