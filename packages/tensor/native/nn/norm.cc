// RMSNorm and LayerNorm over the last axis, and their gradients. Rows split over the thread
// pool; the weight and bias gradients are reduced over rows in per-thread f32 partial sums,
// added up in thread order at the end (deterministic for a given thread count).
#include <napi.h>

#include <algorithm>
#include <vector>

#include "common/thread-pool.h"
#include "nn/binding-util.h"
#include "nn/bindings.h"

namespace lmflow {
namespace nn {
namespace {

// Checks x (N, D)-like (rows of the last dim), optional 1-D params of size D, and a 1-D f32
// statistics view per row.
void check_params(Napi::Env env, const char* op, const View& x, const View& p, const char* name) {
  if (!p.data) return;
  require_float(env, p, op, name);
  if (p.ndim != 1 || p.shape[0] != last_dim(x)) {
    throw_js_error(env, std::string(op) + ": " + name + " must have shape [" + std::to_string(last_dim(x)) +
                            "] (the last dimension of x " + shape_string(x) + "), got " + shape_string(p));
  }
}

void check_stats(Napi::Env env, const char* op, const View& x, const View& s, const char* name) {
  require_dtype(env, s, DType::kF32, op, name);
  require_contiguous(env, s, op, name);
  if (s.numel() != row_count(x)) {
    throw_js_error(env, std::string(op) + ": " + name + " " + shape_string(s) + " must hold one value per row of x " +
                            shape_string(x) + " (" + std::to_string(row_count(x)) + ")");
  }
}

// Runs body(r0, r1, partial) over row ranges on the pool, each thread with its own zeroed
// partial buffer of `width` floats, and returns the sum of the partials (width 0: none).
template <typename Body>
std::vector<float> rows_with_partials(int64_t rows, int64_t n, int64_t width, const Body& body) {
  const int threads = (rows * n < 32768) ? 1 : std::max(1, num_threads());
  std::vector<std::vector<float>> partials(static_cast<size_t>(threads), std::vector<float>(static_cast<size_t>(width), 0.0f));
  auto run = [&](int tid, int nt) {
    const int64_t r0 = rows * tid / nt, r1 = rows * (tid + 1) / nt;
    if (r0 < r1) body(r0, r1, width ? partials[static_cast<size_t>(tid)].data() : nullptr);
  };
  if (threads == 1) run(0, 1);
  else parallel_run(run);
  std::vector<float> total(static_cast<size_t>(width), 0.0f);
  for (const auto& p : partials)
    for (int64_t i = 0; i < width; ++i) total[i] += p[i];
  return total;
}

void write_param_grad(const NnKernels& k, const View& out, const std::vector<float>& values) {
  if (out.ndim == 1 && (out.strides[0] == 1 || out.shape[0] <= 1)) {
    k.from_f32(values.data(), element_ptr(out, 0), out.dtype, static_cast<int64_t>(values.size()));
    return;
  }
  for (size_t i = 0; i < values.size(); ++i) {
    k.from_f32(&values[i], element_ptr(out, static_cast<int64_t>(i) * out.strides[0]), out.dtype, 1);
  }
}

}  // namespace

Napi::Value RmsNorm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "rmsNorm";
  View x = view_from_js(info[0], "rmsNorm: x");
  View w = optional_view_from_js(info[1], "rmsNorm: weight");
  const float eps = info[2].As<Napi::Number>().FloatValue();
  View out = view_from_js(info[3], "rmsNorm: out");
  View rstd = view_from_js(info[4], "rmsNorm: rstd");
  require_float(env, x, op, "x");
  require_float(env, out, op, "out");
  require_dense_rows(env, x, op, "x");
  require_dense_rows(env, out, op, "out");
  require_same_shape(env, x, out, op, "x", "out");
  check_params(env, op, x, w, "weight");
  check_stats(env, op, x, rstd, "rstd");
  if (x.numel() == 0) return env.Undefined();
  const int64_t n = last_dim(x), rows = row_count(x);
  const NnKernels& k = nn_kernels();
  std::vector<float> wf = w.data ? dense_f32(k, w) : std::vector<float>();
  float* rs = rstd.ptr<float>();
  parallel_for(rows, row_grain(n), [&](int64_t r0, int64_t r1) {
    float* bx = scratch(0, n);
    float* by = scratch(1, n);
    for (int64_t r = r0; r < r1; ++r) {
      float* y = output_row(out, r, by);
      rs[r] = k.rms_norm_row(load_row(k, x, r, n, bx), w.data ? wf.data() : nullptr, y, n, eps, x.dtype);
      store_row(k, out, r, n, y);
    }
  });
  return env.Undefined();
}

Napi::Value RmsNormGrad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "rmsNormGrad";
  View x = view_from_js(info[0], "rmsNormGrad: x");
  View w = optional_view_from_js(info[1], "rmsNormGrad: weight");
  View rstd = view_from_js(info[2], "rmsNormGrad: rstd");
  View dy = view_from_js(info[3], "rmsNormGrad: dy");
  View dx = view_from_js(info[4], "rmsNormGrad: dx");
  View dw = optional_view_from_js(info[5], "rmsNormGrad: dweight");
  for (const View* v : {&x, &dy, &dx}) {
    const char* name = v == &x ? "x" : v == &dy ? "dy" : "dx";
    require_float(env, *v, op, name);
    require_dense_rows(env, *v, op, name);
  }
  require_same_shape(env, x, dy, op, "x", "dy");
  require_same_shape(env, x, dx, op, "x", "dx");
  check_params(env, op, x, w, "weight");
  check_params(env, op, x, dw, "dweight");
  if (dw.data && !w.data) throw_js_error(env, "rmsNormGrad: dweight given without weight");
  check_stats(env, op, x, rstd, "rstd");
  const int64_t n = last_dim(x), rows = row_count(x);
  const NnKernels& k = nn_kernels();
  std::vector<float> wf = w.data ? dense_f32(k, w) : std::vector<float>();
  const float* rs = rstd.ptr<float>();
  std::vector<float> dwf = rows_with_partials(rows, n, dw.data ? n : 0, [&](int64_t r0, int64_t r1, float* acc) {
    float* bx = scratch(0, n);
    float* bdy = scratch(1, n);
    float* bdx = scratch(2, n);
    for (int64_t r = r0; r < r1; ++r) {
      float* d = output_row(dx, r, bdx);
      k.rms_norm_grad_row(load_row(k, x, r, n, bx), w.data ? wf.data() : nullptr, rs[r], load_row(k, dy, r, n, bdy), d,
                          acc, n, x.dtype);
      store_row(k, dx, r, n, d);
    }
  });
  if (dw.data) write_param_grad(k, dw, dwf);
  return env.Undefined();
}

Napi::Value LayerNorm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "layerNorm";
  View x = view_from_js(info[0], "layerNorm: x");
  View w = optional_view_from_js(info[1], "layerNorm: weight");
  View b = optional_view_from_js(info[2], "layerNorm: bias");
  const float eps = info[3].As<Napi::Number>().FloatValue();
  View out = view_from_js(info[4], "layerNorm: out");
  View mean = view_from_js(info[5], "layerNorm: mean");
  View rstd = view_from_js(info[6], "layerNorm: rstd");
  require_float(env, x, op, "x");
  require_float(env, out, op, "out");
  require_dense_rows(env, x, op, "x");
  require_dense_rows(env, out, op, "out");
  require_same_shape(env, x, out, op, "x", "out");
  check_params(env, op, x, w, "weight");
  check_params(env, op, x, b, "bias");
  check_stats(env, op, x, mean, "mean");
  check_stats(env, op, x, rstd, "rstd");
  if (x.numel() == 0) return env.Undefined();
  const int64_t n = last_dim(x), rows = row_count(x);
  const NnKernels& k = nn_kernels();
  std::vector<float> wf = w.data ? dense_f32(k, w) : std::vector<float>();
  std::vector<float> bf = b.data ? dense_f32(k, b) : std::vector<float>();
  float* ms = mean.ptr<float>();
  float* rs = rstd.ptr<float>();
  parallel_for(rows, row_grain(n), [&](int64_t r0, int64_t r1) {
    float* bx = scratch(0, n);
    float* by = scratch(1, n);
    for (int64_t r = r0; r < r1; ++r) {
      float* y = output_row(out, r, by);
      k.layer_norm_row(load_row(k, x, r, n, bx), w.data ? wf.data() : nullptr, b.data ? bf.data() : nullptr, y, n, eps,
                       &ms[r], &rs[r]);
      store_row(k, out, r, n, y);
    }
  });
  return env.Undefined();
}

Napi::Value LayerNormGrad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "layerNormGrad";
  View x = view_from_js(info[0], "layerNormGrad: x");
  View w = optional_view_from_js(info[1], "layerNormGrad: weight");
  View mean = view_from_js(info[2], "layerNormGrad: mean");
  View rstd = view_from_js(info[3], "layerNormGrad: rstd");
  View dy = view_from_js(info[4], "layerNormGrad: dy");
  View dx = view_from_js(info[5], "layerNormGrad: dx");
  View dw = optional_view_from_js(info[6], "layerNormGrad: dweight");
  View db = optional_view_from_js(info[7], "layerNormGrad: dbias");
  for (const View* v : {&x, &dy, &dx}) {
    const char* name = v == &x ? "x" : v == &dy ? "dy" : "dx";
    require_float(env, *v, op, name);
    require_dense_rows(env, *v, op, name);
  }
  require_same_shape(env, x, dy, op, "x", "dy");
  require_same_shape(env, x, dx, op, "x", "dx");
  check_params(env, op, x, w, "weight");
  check_params(env, op, x, dw, "dweight");
  check_params(env, op, x, db, "dbias");
  check_stats(env, op, x, mean, "mean");
  check_stats(env, op, x, rstd, "rstd");
  const int64_t n = last_dim(x), rows = row_count(x);
  const NnKernels& k = nn_kernels();
  std::vector<float> wf = w.data ? dense_f32(k, w) : std::vector<float>();
  const float* ms = mean.ptr<float>();
  const float* rs = rstd.ptr<float>();
  // One partial buffer holds dweight in [0, n) and dbias in [n, 2n).
  const int64_t width = (dw.data || db.data) ? 2 * n : 0;
  std::vector<float> acc = rows_with_partials(rows, n, width, [&](int64_t r0, int64_t r1, float* part) {
    float* bx = scratch(0, n);
    float* bdy = scratch(1, n);
    float* bdx = scratch(2, n);
    for (int64_t r = r0; r < r1; ++r) {
      float* d = output_row(dx, r, bdx);
      k.layer_norm_grad_row(load_row(k, x, r, n, bx), w.data ? wf.data() : nullptr, ms[r], rs[r],
                            load_row(k, dy, r, n, bdy), d, dw.data ? part : nullptr, db.data ? part + n : nullptr, n);
      store_row(k, dx, r, n, d);
    }
  });
  if (dw.data) write_param_grad(k, dw, std::vector<float>(acc.begin(), acc.begin() + n));
  if (db.data) write_param_grad(k, db, std::vector<float>(acc.begin() + n, acc.end()));
  return env.Undefined();
}

}  // namespace nn
}  // namespace lmflow
