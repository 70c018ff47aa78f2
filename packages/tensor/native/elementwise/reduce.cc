// reduce(op, x, axes, out) and argmax(x, axis, out).
//
// Every reduction accumulates in double (sums of f32 lose nothing worth measuring, max/min of
// any dtype are exact) and rounds once into out's dtype. Three loop shapes, chosen from the
// strides after coalescing:
// - rows: the reduced elements of one output are contiguous (sum over the last axis): each
//   output reduces contiguous runs with a vectorized, 16-lane loop;
// - columns: the kept elements are contiguous (sum over the batch of a (N, C) gradient): a
//   block of outputs is updated together, vectorized across outputs;
// - anything else: strided runs.
// Threads split the outputs, or, when there are few outputs, the reduced range of each
// (partial results combined in a fixed order).
#include <napi.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "args.h"
#include "tile.h"

namespace lmflow {
namespace ew {
namespace {

enum class Reduce { kSum, kMax, kMin };

template <Reduce OP>
constexpr double reduce_init() {
  if constexpr (OP == Reduce::kSum) return 0.0;
  else if constexpr (OP == Reduce::kMax) return -std::numeric_limits<double>::infinity();
  else return std::numeric_limits<double>::infinity();
}

// NaN is sticky for max and min (once acc is NaN it stays), as in torch.
template <Reduce OP>
LMFLOW_INLINE double combine(double acc, double v) {
  if constexpr (OP == Reduce::kSum) return acc + v;
  else if constexpr (OP == Reduce::kMax) return (v > acc || v != v) ? v : acc;
  else return (v < acc || v != v) ? v : acc;
}

// Reduces a contiguous run in 16 independent lanes (vectorized), then the lanes in order.
template <DType D, Reduce OP>
struct RunContiguous {
  static LMFLOW_INLINE double run(const typename Elem<D>::T* p, int64_t n) {
    double lanes[16];
    for (int j = 0; j < 16; ++j) lanes[j] = reduce_init<OP>();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
      for (int j = 0; j < 16; ++j) lanes[j] = combine<OP>(lanes[j], Elem<D>::load_f64(p[i + j]));
    }
    double acc = reduce_init<OP>();
    for (int j = 0; j < 16; ++j) acc = combine<OP>(acc, lanes[j]);
    for (; i < n; ++i) acc = combine<OP>(acc, Elem<D>::load_f64(p[i]));
    return acc;
  }
};

// acc[c] op= p[c] for a block of outputs whose inputs are contiguous.
template <DType D, Reduce OP>
struct ColumnsAccumulate {
  static LMFLOW_INLINE void run(const typename Elem<D>::T* p, double* acc, int64_t n) {
    for (int64_t c = 0; c < n; ++c) acc[c] = combine<OP>(acc[c], Elem<D>::load_f64(p[c]));
  }
};

template <DType D, Reduce OP>
double reduce_run(const typename Elem<D>::T* p, int64_t n, int64_t stride) {
  if (stride == 1) {
    if constexpr (D == DType::kF32 || D == DType::kBF16 || D == DType::kF16) return simd_call<RunContiguous<D, OP>>(p, n);
    else return RunContiguous<D, OP>::run(p, n);
  }
  double acc = reduce_init<OP>();
  for (int64_t i = 0; i < n; ++i) acc = combine<OP>(acc, Elem<D>::load_f64(p[i * stride]));
  return acc;
}

// Kept and reduced dimensions after dropping size 1 and merging contiguous neighbours.
struct ReduceShape {
  int nk = 0, nr = 0;
  int64_t kshape[kMaxDims], kx[kMaxDims], kout[kMaxDims];
  int64_t rshape[kMaxDims], rx[kMaxDims];
  int64_t K = 1, R = 1;
};

ReduceShape reduce_shape(const View& x, const std::vector<bool>& reduced, const View& out) {
  ReduceShape s;
  struct Dim { int64_t size, xs, os; };
  std::vector<Dim> kept, red;
  for (int d = 0; d < x.ndim; ++d) {
    if (x.shape[d] == 1) continue;
    if (reduced[d]) red.push_back({x.shape[d], x.strides[d], 0});
    else kept.push_back({x.shape[d], x.strides[d], out.strides[d]});
  }
  // The order of reduced dimensions is free: innermost the smallest stride, for locality.
  std::stable_sort(red.begin(), red.end(), [](const Dim& a, const Dim& b) { return std::llabs(a.xs) > std::llabs(b.xs); });
  for (const Dim& d : kept) {
    if (s.nk > 0 && s.kx[s.nk - 1] == d.xs * d.size && s.kout[s.nk - 1] == d.os * d.size) {
      s.kshape[s.nk - 1] *= d.size;
      s.kx[s.nk - 1] = d.xs;
      s.kout[s.nk - 1] = d.os;
    } else {
      s.kshape[s.nk] = d.size, s.kx[s.nk] = d.xs, s.kout[s.nk] = d.os;
      ++s.nk;
    }
    s.K *= d.size;
  }
  for (const Dim& d : red) {
    if (s.nr > 0 && s.rx[s.nr - 1] == d.xs * d.size) {
      s.rshape[s.nr - 1] *= d.size;
      s.rx[s.nr - 1] = d.xs;
    } else {
      s.rshape[s.nr] = d.size, s.rx[s.nr] = d.xs;
      ++s.nr;
    }
    s.R *= d.size;
  }
  if (s.nr == 0) {  // nothing to reduce (size-1 axes): one element per output
    s.rshape[0] = 1, s.rx[0] = 0, s.nr = 1;
  }
  return s;
}

// Element offsets of output o (row-major over the kept dimensions) in x and out.
inline void kept_offsets(const ReduceShape& s, int64_t o, int64_t* x_off, int64_t* out_off) {
  int64_t xo = 0, oo = 0;
  for (int d = s.nk - 1; d >= 0; --d) {
    int64_t i = o % s.kshape[d];
    o /= s.kshape[d];
    xo += i * s.kx[d];
    oo += i * s.kout[d];
  }
  *x_off = xo;
  *out_off = oo;
}

// Reduces flat reduced indices [begin, end) of the output whose x elements start at p.
template <DType D, Reduce OP>
double reduce_range(const ReduceShape& s, const typename Elem<D>::T* p, int64_t begin, int64_t end) {
  const int last = s.nr - 1;
  const int64_t run = s.rshape[last], stride = s.rx[last];
  int64_t index[kMaxDims];
  int64_t off = 0, rest = begin;
  for (int d = last; d >= 0; --d) {
    index[d] = rest % s.rshape[d];
    rest /= s.rshape[d];
    off += index[d] * s.rx[d];
  }
  double acc = reduce_init<OP>();
  for (int64_t pos = begin; pos < end;) {
    int64_t n = std::min(run - index[last], end - pos);
    acc = combine<OP>(acc, reduce_run<D, OP>(p + off, n, stride));
    pos += n;
    index[last] += n;
    off += n * stride;
    for (int d = last; d > 0 && index[d] == s.rshape[d]; --d) {
      off -= s.rshape[d] * s.rx[d];
      index[d] = 0;
      ++index[d - 1];
      off += s.rx[d - 1];
    }
  }
  return acc;
}

template <DType D, Reduce OP>
void reduce_rows(const ReduceShape& s, const View& x, const View& out) {
  using T = typename Elem<D>::T;
  const T* xp = x.ptr<T>();
  auto store = [&](int64_t out_off, double v) {
    visit_dtype(out.dtype, [&](auto tag) {
      constexpr DType O = decltype(tag)::value;
      out.ptr<typename Elem<O>::T>()[out_off] = store_from<O, double>(v);
    });
  };
  const int threads = num_threads();
  if (s.K >= 2 * threads || s.K * s.R < kParallelThreshold || s.R < kParallelThreshold) {
    auto body = [&](int64_t begin, int64_t end) {
      for (int64_t o = begin; o < end; ++o) {
        int64_t xo, oo;
        kept_offsets(s, o, &xo, &oo);
        store(oo, reduce_range<D, OP>(s, xp + xo, 0, s.R));
      }
    };
    if (s.K * s.R >= kParallelThreshold) parallel_for(s.K, std::max<int64_t>(1, kParallelGrain / s.R), body);
    else body(0, s.K);
    return;
  }
  // Few outputs, long reductions: every thread takes a slice of each output's range.
  std::vector<double> partial(threads);
  for (int64_t o = 0; o < s.K; ++o) {
    int64_t xo, oo;
    kept_offsets(s, o, &xo, &oo);
    std::fill(partial.begin(), partial.end(), reduce_init<OP>());
    parallel_run([&](int t, int n) {
      int64_t begin = s.R * t / n, end = s.R * (t + 1) / n;
      partial[t] = reduce_range<D, OP>(s, xp + xo, begin, end);
    });
    double acc = reduce_init<OP>();
    for (double v : partial) acc = combine<OP>(acc, v);
    store(oo, acc);
  }
}

template <DType D, Reduce OP>
void reduce_columns(const ReduceShape& s, const View& x, const View& out) {
  using T = typename Elem<D>::T;
  constexpr int64_t kBlock = 256;
  const int lastk = s.nk - 1;
  const int64_t cols = s.kshape[lastk];
  const int64_t col_blocks = (cols + kBlock - 1) / kBlock;
  const int64_t groups = s.K / cols;
  const T* xp = x.ptr<T>();
  auto body = [&](int64_t begin, int64_t end) {
    double acc[kBlock];
    int64_t index[kMaxDims];
    for (int64_t task = begin; task < end; ++task) {
      int64_t g = task / col_blocks, c0 = (task % col_blocks) * kBlock;
      int64_t n = std::min(kBlock, cols - c0);
      // Offsets of the first output of this block: group g over the other kept dims.
      int64_t xo = 0, oo = 0, rest = g;
      for (int d = lastk - 1; d >= 0; --d) {
        int64_t i = rest % s.kshape[d];
        rest /= s.kshape[d];
        xo += i * s.kx[d];
        oo += i * s.kout[d];
      }
      xo += c0;
      oo += c0 * s.kout[lastk];
      std::fill(acc, acc + n, reduce_init<OP>());
      std::fill(index, index + s.nr, 0);
      int64_t roff = 0;
      for (int64_t r = 0; r < s.R; ++r) {
        if constexpr (D == DType::kF32 || D == DType::kBF16 || D == DType::kF16) {
          simd_call<ColumnsAccumulate<D, OP>>(xp + xo + roff, acc, n);
        } else {
          ColumnsAccumulate<D, OP>::run(xp + xo + roff, acc, n);
        }
        for (int d = s.nr - 1; d >= 0; --d) {
          roff += s.rx[d];
          if (++index[d] < s.rshape[d]) break;
          roff -= s.rshape[d] * s.rx[d];
          index[d] = 0;
        }
      }
      visit_dtype(out.dtype, [&](auto tag) {
        constexpr DType O = decltype(tag)::value;
        typename Elem<O>::T* op = out.ptr<typename Elem<O>::T>() + oo;
        for (int64_t c = 0; c < n; ++c) op[c * s.kout[lastk]] = store_from<O, double>(acc[c]);
      });
    }
  };
  const int64_t tasks = groups * col_blocks;
  if (s.K * s.R >= kParallelThreshold) parallel_for(tasks, 1, body);
  else body(0, tasks);
}

template <Reduce OP>
void reduce(const View& x, const std::vector<bool>& reduced, const View& out) {
  ReduceShape s = reduce_shape(x, reduced, out);
  if (s.K == 0) return;
  visit_dtype(x.dtype, [&](auto tag) {
    constexpr DType D = decltype(tag)::value;
    bool columns = s.rx[s.nr - 1] != 1 && s.nk > 0 && s.kx[s.nk - 1] == 1 && s.kshape[s.nk - 1] >= 8 && s.R > 1;
    if (columns) reduce_columns<D, OP>(s, x, out);
    else reduce_rows<D, OP>(s, x, out);
  });
}

Napi::Value ReduceFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* fn = "reduce";
  std::string op = string_arg(info, 0, fn, "op");
  View x = view_arg(info, 1, fn, "x");
  if (!info[2].IsArray()) throw Napi::TypeError::New(env, "reduce: axes must be an array");
  Napi::Array axes = info[2].As<Napi::Array>();
  View out = view_arg(info, 3, fn, "out");
  std::vector<bool> reduced(x.ndim, false);
  for (uint32_t i = 0; i < axes.Length(); ++i) {
    Napi::Value v = axes.Get(i);
    double a = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
    if (a != std::floor(a) || a < 0 || a >= x.ndim) {
      throw_js_error(env, "reduce: axis " + v.ToString().Utf8Value() + " is out of range for x of shape " + shape_string(x));
    }
    reduced[static_cast<int>(a)] = true;
  }
  bool shape_ok = out.ndim == x.ndim;
  for (int d = 0; shape_ok && d < x.ndim; ++d) shape_ok = out.shape[d] == (reduced[d] ? 1 : x.shape[d]);
  if (!shape_ok) {
    throw_js_error(env, "reduce: out has shape " + shape_string(out) + " but x " + shape_string(x) +
                            " reduced over the given axes needs the same shape with those axes set to 1");
  }
  if (op == "sum") {
    if (x.numel() == 0) {
      // A sum over nothing is 0 (out is contiguous by contract; all-zero bits are 0 in
      // every dtype).
      std::memset(out.byte_ptr(), 0, static_cast<size_t>(out.numel()) * dtype_size(out.dtype));
      return env.Undefined();
    }
    reduce<Reduce::kSum>(x, reduced, out);
  } else if (op == "max" || op == "min") {
    for (int d = 0; d < x.ndim; ++d) {
      if (reduced[d] && x.shape[d] == 0) {
        throw_js_error(env, "reduce: " + op + " over an empty axis of x " + shape_string(x) + " has no identity");
      }
    }
    if (op == "max") reduce<Reduce::kMax>(x, reduced, out);
    else reduce<Reduce::kMin>(x, reduced, out);
  } else {
    throw_js_error(env, "reduce: unknown op \"" + op + "\"; expected sum, max or min");
  }
  return env.Undefined();
}

// Index of the first maximum along the axis; NaN counts as larger than everything.
template <DType D, typename I>
void argmax(const View& x, int axis, const View& out) {
  using T = typename Elem<D>::T;
  const int64_t n = x.shape[axis], stride = x.strides[axis];
  View kept_x = x, kept_out = out;
  kept_x.shape[axis] = 1;
  const View* views[2] = {&kept_x, &kept_out};
  const Plan<2> plan = make_plan<2>(views);
  auto body = [&](int64_t begin, int64_t end) {
    for_each_run(plan, begin, end, [&](char* const* p, int64_t count, const int64_t* s) {
      for (int64_t k = 0; k < count; ++k) {
        const T* row = reinterpret_cast<const T*>(p[0]) + k * s[0];
        double best = Elem<D>::load_f64(row[0]);
        int64_t at = 0;
        for (int64_t i = 1; i < n && best == best; ++i) {
          double v = Elem<D>::load_f64(row[i * stride]);
          if (v > best || v != v) best = v, at = i;
        }
        reinterpret_cast<I*>(p[1])[k * s[1]] = static_cast<I>(at);
      }
    });
  };
  if (plan.numel * n >= kParallelThreshold) parallel_for(plan.numel, std::max<int64_t>(1, kParallelGrain / n), body);
  else body(0, plan.numel);
}

Napi::Value ArgmaxFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* fn = "argmax";
  View x = view_arg(info, 0, fn, "x");
  int axis = axis_arg(info, 1, fn, x.ndim);
  View out = view_arg(info, 2, fn, "out");
  require_index_dtype(env, fn, "out", out);
  bool shape_ok = out.ndim == x.ndim;
  for (int d = 0; shape_ok && d < x.ndim; ++d) shape_ok = out.shape[d] == (d == axis ? 1 : x.shape[d]);
  if (!shape_ok) {
    throw_js_error(env, "argmax: out has shape " + shape_string(out) + ", expected x's shape " + shape_string(x) +
                            " with axis " + std::to_string(axis) + " set to 1");
  }
  if (x.shape[axis] == 0) throw_js_error(env, "argmax: axis " + std::to_string(axis) + " of x " + shape_string(x) + " is empty");
  visit_dtype(x.dtype, [&](auto tag) {
    constexpr DType D = decltype(tag)::value;
    if (out.dtype == DType::kI32) argmax<D, int32_t>(x, axis, out);
    else argmax<D, int64_t>(x, axis, out);
  });
  return env.Undefined();
}

}  // namespace

void RegisterReduce(Napi::Env env, Napi::Object exports) {
  exports.Set("reduce", Napi::Function::New(env, ReduceFn));
  exports.Set("argmax", Napi::Function::New(env, ArgmaxFn));
}

}  // namespace ew
}  // namespace lmflow
