// indexSelect, indexAdd, gather and scatterAdd along one axis, with i32 or i64 indices.
//
// Every index is checked before anything is written: an out-of-range index throws a JS error
// naming the function and the index, and no kernel ever reads or writes outside its views.
// Accumulating kernels (indexAdd, scatterAdd) sum each destination in double and round once,
// so repeated indices (an embedding's backward over repeated tokens) add up like the
// reference's float64 sums, and never race: threads own disjoint destinations.
#include <napi.h>

#include <cstring>
#include <string>
#include <vector>

#include "args.h"
#include "tile.h"

namespace lmflow {
namespace ew {
namespace {

// All index values, row-major, as int64 (small next to the data they index).
std::vector<int64_t> read_indices(const View& index) {
  std::vector<int64_t> values(index.numel());
  const View* views[1] = {&index};
  const Plan<1> plan = make_plan<1>(views);
  int64_t pos = 0;
  for_each_run(plan, 0, plan.numel, [&](char* const* p, int64_t n, const int64_t* s) {
    for (int64_t i = 0; i < n; ++i) {
      values[pos++] = index.dtype == DType::kI32 ? reinterpret_cast<const int32_t*>(p[0])[i * s[0]]
                                                 : reinterpret_cast<const int64_t*>(p[0])[i * s[0]];
    }
  });
  return values;
}

void check_indices(Napi::Env env, const char* fn, const std::vector<int64_t>& values, int axis, int64_t size) {
  for (size_t i = 0; i < values.size(); ++i) {
    if (values[i] < 0 || values[i] >= size) {
      throw_js_error(env, std::string(fn) + ": index " + std::to_string(values[i]) + " (element " + std::to_string(i) +
                              " of index) is out of range for axis " + std::to_string(axis) + " of size " + std::to_string(size));
    }
  }
}

// The view restricted to dimensions [from, to).
View sub_view(const View& v, int from, int to) {
  View s = v;
  s.ndim = to - from;
  for (int d = from; d < to; ++d) {
    s.shape[d - from] = v.shape[d];
    s.strides[d - from] = v.strides[d];
  }
  s.offset = 0;
  return s;
}

// Element offsets of flat index o over dims [0, nd) of a and b.
inline void outer_offsets(const View& a, const View& b, int nd, int64_t o, int64_t* a_off, int64_t* b_off) {
  int64_t ao = 0, bo = 0;
  for (int d = nd - 1; d >= 0; --d) {
    int64_t i = o % a.shape[d];
    o /= a.shape[d];
    ao += i * a.strides[d];
    bo += i * b.strides[d];
  }
  *a_off = ao;
  *b_off = bo;
}

// A run of the inner block shared by two operands: element offsets and strides.
struct Run {
  int64_t a_off, b_off, n, a_stride, b_stride;
};

// The runs covering the dimensions after `axis` of a and b (same inner shape).
std::vector<Run> inner_runs(const View& a, const View& b, int axis) {
  View ia = sub_view(a, axis + 1, a.ndim), ib = sub_view(b, axis + 1, b.ndim);
  ia.data = nullptr, ib.data = nullptr;
  const View* views[2] = {&ia, &ib};
  const Plan<2> plan = make_plan<2>(views);
  std::vector<Run> runs;
  for_each_run(plan, 0, plan.numel, [&](char* const* p, int64_t n, const int64_t* s) {
    runs.push_back({static_cast<int64_t>(reinterpret_cast<intptr_t>(p[0])) / plan.esize[0],
                    static_cast<int64_t>(reinterpret_cast<intptr_t>(p[1])) / plan.esize[1], n, s[0], s[1]});
  });
  return runs;
}

int64_t prod(const View& v, int from, int to) {
  int64_t n = 1;
  for (int d = from; d < to; ++d) n *= v.shape[d];
  return n;
}

// out[o, i, ...] = x[o, index[i], ...]
void index_select(const View& x, int axis, const std::vector<int64_t>& index, const View& out) {
  const int64_t outer = prod(x, 0, axis), n = static_cast<int64_t>(index.size()), inner = prod(x, axis + 1, x.ndim);
  if (outer * n * inner == 0) return;
  const std::vector<Run> runs = inner_runs(x, out, axis);
  const int esize = dtype_size(x.dtype);
  char* xb = static_cast<char*>(x.byte_ptr());
  char* ob = static_cast<char*>(out.byte_ptr());
  auto body = [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      int64_t o = t / n, i = t % n, xo, oo;
      outer_offsets(x, out, axis, o, &xo, &oo);
      xo += index[i] * x.strides[axis];
      oo += i * out.strides[axis];
      for (const Run& r : runs) {
        char* src = xb + (xo + r.a_off) * esize;
        char* dst = ob + (oo + r.b_off) * esize;
        if (r.a_stride == 1 && r.b_stride == 1) {
          std::memcpy(dst, src, r.n * esize);
        } else {
          for (int64_t k = 0; k < r.n; ++k) std::memcpy(dst + k * r.b_stride * esize, src + k * r.a_stride * esize, esize);
        }
      }
    }
  };
  if (outer * n * inner >= kParallelThreshold) parallel_for(outer * n, std::max<int64_t>(1, kParallelGrain / inner), body);
  else body(0, outer * n);
}

// out[o, index[i], ...] += src[o, i, ...], grouped by destination row so that each
// destination is summed once (in double) by one thread.
void index_add(const View& out, int axis, const std::vector<int64_t>& index, const View& src) {
  const int64_t outer = prod(out, 0, axis), rows = out.shape[axis], inner = prod(out, axis + 1, out.ndim);
  const int64_t n = static_cast<int64_t>(index.size());
  if (outer * n * inner == 0) return;
  // Positions of each destination row, in ascending order (CSR).
  std::vector<int64_t> start(rows + 1, 0), positions(n);
  for (int64_t i = 0; i < n; ++i) ++start[index[i] + 1];
  for (int64_t r = 0; r < rows; ++r) start[r + 1] += start[r];
  {
    std::vector<int64_t> fill(start.begin(), start.end() - 1);
    for (int64_t i = 0; i < n; ++i) positions[fill[index[i]]++] = i;
  }
  std::vector<int64_t> active;
  for (int64_t r = 0; r < rows; ++r) if (start[r + 1] > start[r]) active.push_back(r);
  const std::vector<Run> runs = inner_runs(out, src, axis);
  char* ob = static_cast<char*>(out.byte_ptr());
  const char* sb = static_cast<const char*>(src.byte_ptr());
  const int oes = dtype_size(out.dtype), ses = dtype_size(src.dtype);
  const int64_t tasks = outer * static_cast<int64_t>(active.size());
  auto body = [&](int64_t begin, int64_t end) {
    alignas(64) double acc[kTile], buf[kTile];
    for (int64_t t = begin; t < end; ++t) {
      int64_t o = t / static_cast<int64_t>(active.size()), row = active[t % active.size()];
      int64_t oo, so;
      outer_offsets(out, src, axis, o, &oo, &so);
      for (const Run& r : runs) {
        for (int64_t c0 = 0; c0 < r.n; c0 += kTile) {
          int64_t m = std::min<int64_t>(kTile, r.n - c0);
          char* dst = ob + (oo + row * out.strides[axis] + r.a_off + c0 * r.a_stride) * oes;
          const double* cur = load_run<double>(out.dtype, dst, r.a_stride, m, acc);
          if (cur != acc) std::memcpy(acc, cur, m * sizeof(double));
          for (int64_t k = start[row]; k < start[row + 1]; ++k) {
            const char* s = sb + (so + positions[k] * src.strides[axis] + r.b_off + c0 * r.b_stride) * ses;
            const double* v = load_run<double>(src.dtype, s, r.b_stride, m, buf);
            for (int64_t j = 0; j < m; ++j) acc[j] += v[j];
          }
          store_run<double>(acc, out.dtype, dst, r.a_stride, m);
        }
      }
    }
  };
  if (outer * n * inner >= kParallelThreshold) parallel_for(tasks, 1, body);
  else body(0, tasks);
}

// The views gather and scatterAdd walk: `index` itself, `data` (x or src) over index's shape,
// and `axis_view` (the indexed tensor with its axis stride zeroed: the kernel adds
// index * stride itself).
View over_shape(const View& v, const View& shape_of, int axis, bool zero_axis) {
  View s = v;
  for (int d = 0; d < v.ndim; ++d) s.shape[d] = shape_of.shape[d];
  if (zero_axis) s.strides[axis] = 0;
  return s;
}

void gather(const View& x, int axis, const View& index, const std::vector<int64_t>& values, const View& out) {
  View xs = over_shape(x, index, axis, true);
  View os = over_shape(out, index, axis, false);
  const View* views[2] = {&xs, &os};
  const Plan<2> plan = make_plan<2>(views);
  if (plan.numel == 0) return;
  const int esize = dtype_size(x.dtype);
  const int64_t axis_stride = x.strides[axis];
  // Plans keep row-major order, so values[pos] is the index of element pos.
  auto body = [&](int64_t begin, int64_t end) {
    int64_t pos = begin;
    for_each_run(plan, begin, end, [&](char* const* p, int64_t n, const int64_t* s) {
      for (int64_t k = 0; k < n; ++k, ++pos) {
        std::memcpy(p[1] + k * s[1] * esize, p[0] + (k * s[0] + values[pos] * axis_stride) * esize, esize);
      }
    });
  };
  if (plan.numel >= kParallelThreshold) parallel_for(plan.numel, kParallelGrain, body);
  else body(0, plan.numel);
}

// out[.., index[..], ..] += src[..] over index's shape: every destination is summed in a
// double scratch copy of out, and only touched elements are written back (rounded once).
void scatter_add(const View& out, int axis, const View& index, const std::vector<int64_t>& values, const View& src) {
  const int64_t total = out.numel();
  if (total == 0 || values.empty()) return;
  std::vector<double> scratch(total);
  std::vector<uint8_t> touched(total, 0);
  // out -> scratch, row-major.
  const View* out_views[1] = {&out};
  const Plan<1> out_plan = make_plan<1>(out_views);
  int64_t pos = 0;
  for_each_run(out_plan, 0, total, [&](char* const* p, int64_t n, const int64_t* s) {
    const double* v = load_run<double>(out.dtype, p[0], s[0], n, scratch.data() + pos);
    if (v != scratch.data() + pos) std::memcpy(scratch.data() + pos, v, n * sizeof(double));
    pos += n;
  });
  // Row-major positions in out of every element of index's shape (axis stride zeroed).
  int64_t contiguous[kMaxDims];
  for (int d = out.ndim - 1, s = 1; d >= 0; --d) contiguous[d] = s, s *= out.shape[d];
  int64_t flat_axis_stride = contiguous[axis];
  View flat = out;
  flat.dtype = DType::kF64;
  flat.offset = 0;
  for (int d = 0; d < out.ndim; ++d) flat.strides[d] = contiguous[d];
  flat.data = scratch.data();
  View fs = over_shape(flat, index, axis, true);
  View ss = over_shape(src, index, axis, false);
  const View* views[2] = {&fs, &ss};
  const Plan<2> plan = make_plan<2>(views);
  alignas(64) double buf[kTile];
  pos = 0;
  for_each_run(plan, 0, plan.numel, [&](char* const* p, int64_t n, const int64_t* s) {
    for (int64_t c0 = 0; c0 < n; c0 += kTile) {
      int64_t m = std::min<int64_t>(kTile, n - c0);
      const double* v = load_run<double>(src.dtype, p[1] + c0 * s[1] * dtype_size(src.dtype), s[1], m, buf);
      double* base = reinterpret_cast<double*>(p[0]) + c0 * s[0];
      for (int64_t k = 0; k < m; ++k, ++pos) {
        double* d = base + k * s[0] + values[pos] * flat_axis_stride;
        *d += v[k];
        touched[d - scratch.data()] = 1;
      }
    }
  });
  // Touched elements back into out.
  pos = 0;
  visit_dtype(out.dtype, [&](auto tag) {
    constexpr DType D = decltype(tag)::value;
    using T = typename Elem<D>::T;
    for_each_run(out_plan, 0, total, [&](char* const* p, int64_t n, const int64_t* s) {
      T* dst = reinterpret_cast<T*>(p[0]);
      for (int64_t k = 0; k < n; ++k, ++pos) {
        if (touched[pos]) dst[k * s[0]] = store_from<D, double>(scratch[pos]);
      }
    });
  });
}

// Shapes: for d != axis, index.shape[d] <= limit.shape[d] (torch's rule for gather/scatter).
void require_index_fits(Napi::Env env, const char* fn, const View& index, const char* name, const View& v, int axis, bool include_axis) {
  bool ok = index.ndim == v.ndim;
  for (int d = 0; ok && d < v.ndim; ++d) {
    if (d != axis || include_axis) ok = index.shape[d] <= v.shape[d];
  }
  if (!ok) {
    throw_js_error(env, std::string(fn) + ": index has shape " + shape_string(index) + " but " + name + " has shape " +
                            shape_string(v) + "; expected the same rank and index no larger in every dimension" +
                            (include_axis ? "" : " but the axis"));
  }
}

void require_index_1d(Napi::Env env, const char* fn, const View& index) {
  require_index_dtype(env, fn, "index", index);
  if (index.ndim != 1) throw_js_error(env, std::string(fn) + ": index must be 1-D, got shape " + shape_string(index));
}

// Same shape as `like` except along axis, where the size is `size`.
void require_shape_except_axis(Napi::Env env, const char* fn, const char* name, const View& v, const View& like, int axis, int64_t size) {
  bool ok = v.ndim == like.ndim;
  for (int d = 0; ok && d < v.ndim; ++d) ok = v.shape[d] == (d == axis ? size : like.shape[d]);
  if (!ok) {
    throw_js_error(env, std::string(fn) + ": " + name + " has shape " + shape_string(v) + ", expected " + shape_string(like) +
                            " with axis " + std::to_string(axis) + " of size " + std::to_string(size));
  }
}

Napi::Value IndexSelectFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* fn = "indexSelect";
  View x = view_arg(info, 0, fn, "x");
  int axis = axis_arg(info, 1, fn, x.ndim);
  View index = view_arg(info, 2, fn, "index");
  View out = view_arg(info, 3, fn, "out");
  require_index_1d(env, fn, index);
  require_same_dtype(env, fn, "x", x, "out", out);
  require_shape_except_axis(env, fn, "out", out, x, axis, index.shape[0]);
  std::vector<int64_t> values = read_indices(index);
  check_indices(env, fn, values, axis, x.shape[axis]);
  index_select(x, axis, values, out);
  return env.Undefined();
}

Napi::Value IndexAddFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* fn = "indexAdd";
  View out = view_arg(info, 0, fn, "out");
  int axis = axis_arg(info, 1, fn, out.ndim);
  View index = view_arg(info, 2, fn, "index");
  View src = view_arg(info, 3, fn, "src");
  require_index_1d(env, fn, index);
  require_same_dtype(env, fn, "out", out, "src", src);
  require_shape_except_axis(env, fn, "src", src, out, axis, index.shape[0]);
  std::vector<int64_t> values = read_indices(index);
  check_indices(env, fn, values, axis, out.shape[axis]);
  index_add(out, axis, values, src);
  return env.Undefined();
}

Napi::Value GatherFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* fn = "gather";
  View x = view_arg(info, 0, fn, "x");
  int axis = axis_arg(info, 1, fn, x.ndim);
  View index = view_arg(info, 2, fn, "index");
  View out = view_arg(info, 3, fn, "out");
  require_index_dtype(env, fn, "index", index);
  require_same_dtype(env, fn, "x", x, "out", out);
  require_same_shape(env, fn, "index", index, "out", out);
  require_index_fits(env, fn, index, "x", x, axis, false);
  std::vector<int64_t> values = read_indices(index);
  check_indices(env, fn, values, axis, x.shape[axis]);
  gather(x, axis, index, values, out);
  return env.Undefined();
}

Napi::Value ScatterAddFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* fn = "scatterAdd";
  View out = view_arg(info, 0, fn, "out");
  int axis = axis_arg(info, 1, fn, out.ndim);
  View index = view_arg(info, 2, fn, "index");
  View src = view_arg(info, 3, fn, "src");
  require_index_dtype(env, fn, "index", index);
  require_same_dtype(env, fn, "out", out, "src", src);
  require_index_fits(env, fn, index, "src", src, axis, true);
  require_index_fits(env, fn, index, "out", out, axis, false);
  std::vector<int64_t> values = read_indices(index);
  check_indices(env, fn, values, axis, out.shape[axis]);
  scatter_add(out, axis, index, values, src);
  return env.Undefined();
}

}  // namespace

void RegisterIndexOps(Napi::Env env, Napi::Object exports) {
  exports.Set("indexSelect", Napi::Function::New(env, IndexSelectFn));
  exports.Set("indexAdd", Napi::Function::New(env, IndexAddFn));
  exports.Set("gather", Napi::Function::New(env, GatherFn));
  exports.Set("scatterAdd", Napi::Function::New(env, ScatterAddFn));
}

}  // namespace ew
}  // namespace lmflow
