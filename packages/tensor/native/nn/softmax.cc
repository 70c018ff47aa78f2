// softmax, log-softmax and their gradients over the last axis, one row per call of the
// row kernel, rows split over the thread pool.
#include <napi.h>

#include "common/thread-pool.h"
#include "nn/binding-util.h"
#include "nn/bindings.h"

namespace lmflow {
namespace nn {

Napi::Value Softmax(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "softmax";
  View x = view_from_js(info[0], "softmax: x");
  View out = view_from_js(info[1], "softmax: out");
  const float scale = info[2].As<Napi::Number>().FloatValue();
  const bool causal = info[3].ToBoolean().Value();
  require_float(env, x, op, "x");
  require_float(env, out, op, "out");
  require_same_shape(env, x, out, op, "x", "out");
  require_dense_rows(env, x, op, "x");
  require_dense_rows(env, out, op, "out");
  if (causal && x.ndim < 2) throw_js_error(env, "softmax: causal needs x of shape (..., Tq, Tk), got " + shape_string(x));
  if (x.numel() == 0) return env.Undefined();
  const int64_t n = last_dim(x), rows = row_count(x);
  const int64_t tq = causal ? x.shape[x.ndim - 2] : 1;
  const NnKernels& k = nn_kernels();
  parallel_for(rows, row_grain(n), [&](int64_t r0, int64_t r1) {
    float* bx = scratch(0, n);
    float* by = scratch(1, n);
    for (int64_t r = r0; r < r1; ++r) {
      // Query q = r % Tq sees keys up to q + (Tk - Tq).
      const int64_t valid = causal ? r % tq + n - tq + 1 : n;
      float* y = output_row(out, r, by);
      k.softmax_row(load_row(k, x, r, n, bx), y, n, valid, scale);
      store_row(k, out, r, n, y);
    }
  });
  return env.Undefined();
}

Napi::Value SoftmaxGrad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "softmaxGrad";
  View y = view_from_js(info[0], "softmaxGrad: y");
  View dy = view_from_js(info[1], "softmaxGrad: dy");
  View dx = view_from_js(info[2], "softmaxGrad: out");
  const float scale = info[3].As<Napi::Number>().FloatValue();
  for (const View* v : {&y, &dy, &dx}) {
    require_float(env, *v, op, v == &y ? "y" : v == &dy ? "dy" : "out");
    require_dense_rows(env, *v, op, v == &y ? "y" : v == &dy ? "dy" : "out");
  }
  require_same_shape(env, y, dy, op, "y", "dy");
  require_same_shape(env, y, dx, op, "y", "out");
  if (y.numel() == 0) return env.Undefined();
  const int64_t n = last_dim(y), rows = row_count(y);
  const NnKernels& k = nn_kernels();
  parallel_for(rows, row_grain(n), [&](int64_t r0, int64_t r1) {
    float* by = scratch(0, n);
    float* bdy = scratch(1, n);
    float* bdx = scratch(2, n);
    for (int64_t r = r0; r < r1; ++r) {
      float* d = output_row(dx, r, bdx);
      k.softmax_grad_row(load_row(k, y, r, n, by), load_row(k, dy, r, n, bdy), d, n, scale);
      store_row(k, dx, r, n, d);
    }
  });
  return env.Undefined();
}

Napi::Value LogSoftmax(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "logSoftmax";
  View x = view_from_js(info[0], "logSoftmax: x");
  View out = view_from_js(info[1], "logSoftmax: out");
  require_float(env, x, op, "x");
  require_float(env, out, op, "out");
  require_same_shape(env, x, out, op, "x", "out");
  require_dense_rows(env, x, op, "x");
  require_dense_rows(env, out, op, "out");
  if (x.numel() == 0) return env.Undefined();
  const int64_t n = last_dim(x), rows = row_count(x);
  const NnKernels& k = nn_kernels();
  parallel_for(rows, row_grain(n), [&](int64_t r0, int64_t r1) {
    float* bx = scratch(0, n);
    float* by = scratch(1, n);
    for (int64_t r = r0; r < r1; ++r) {
      float* y = output_row(out, r, by);
      k.log_softmax_row(load_row(k, x, r, n, bx), y, n);
      store_row(k, out, r, n, y);
    }
  });
  return env.Undefined();
}

Napi::Value LogSoftmaxGrad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "logSoftmaxGrad";
  View y = view_from_js(info[0], "logSoftmaxGrad: y");
  View dy = view_from_js(info[1], "logSoftmaxGrad: dy");
  View dx = view_from_js(info[2], "logSoftmaxGrad: out");
  for (const View* v : {&y, &dy, &dx}) {
    require_float(env, *v, op, v == &y ? "y" : v == &dy ? "dy" : "out");
    require_dense_rows(env, *v, op, v == &y ? "y" : v == &dy ? "dy" : "out");
  }
  require_same_shape(env, y, dy, op, "y", "dy");
  require_same_shape(env, y, dx, op, "y", "out");
  if (y.numel() == 0) return env.Undefined();
  const int64_t n = last_dim(y), rows = row_count(y);
  const NnKernels& k = nn_kernels();
  parallel_for(rows, row_grain(n), [&](int64_t r0, int64_t r1) {
    float* by = scratch(0, n);
    float* bdy = scratch(1, n);
    float* bdx = scratch(2, n);
    for (int64_t r = r0; r < r1; ++r) {
      float* d = output_row(dx, r, bdx);
      k.log_softmax_grad_row(load_row(k, y, r, n, by), load_row(k, dy, r, n, bdy), d, n);
      store_row(k, dx, r, n, d);
    }
  });
  return env.Undefined();
}

Napi::Value ExpForTest(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  View x = view_from_js(info[0], "nnExpForTest: x");
  View y = view_from_js(info[1], "nnExpForTest: out");
  require_dtype(env, x, DType::kF32, "nnExpForTest", "x");
  require_dtype(env, y, DType::kF32, "nnExpForTest", "out");
  require_contiguous(env, x, "nnExpForTest", "x");
  require_contiguous(env, y, "nnExpForTest", "out");
  require_same_shape(env, x, y, "nnExpForTest", "x", "out");
  nn_kernels().exp_row(x.ptr<float>(), y.ptr<float>(), x.numel());
  return env.Undefined();
}

}  // namespace nn
}  // namespace lmflow
