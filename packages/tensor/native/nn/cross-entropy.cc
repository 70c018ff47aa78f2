// Cross-entropy from logits (N, V) and integer targets (N): per row only the loss and the
// log-sum-exp (no (N, V) probability tensor); the backward writes dlogits directly from
// logits and lse.
#include <napi.h>

#include <string>

#include "common/thread-pool.h"
#include "nn/binding-util.h"
#include "nn/bindings.h"

namespace lmflow {
namespace nn {
namespace {

struct Targets {
  View view;
  int64_t ignore;
  int64_t at(int64_t r) const {
    const char* p = element_ptr(view, r * view.strides[0]);
    return view.dtype == DType::kI64 ? *reinterpret_cast<const int64_t*>(p) : *reinterpret_cast<const int32_t*>(p);
  }
};

// Checks logits, targets and the options; every target is ignoreIndex or a class in [0, V).
Targets check(const Napi::CallbackInfo& info, const char* op, const View& logits, const View& targets, int64_t ignore,
              float smoothing) {
  Napi::Env env = info.Env();
  require_float(env, logits, op, "logits");
  require_rank(env, logits, 2, op, "logits (N, V)");
  require_dense_rows(env, logits, op, "logits");
  if (targets.dtype != DType::kI32 && targets.dtype != DType::kI64) {
    throw_js_error(env, std::string(op) + ": targets must be i32 or i64, got " + dtype_name(targets.dtype) + " " +
                            shape_string(targets));
  }
  require_shape(env, targets, {logits.shape[0]}, op, "targets", "(N) matching logits (N, V)");
  if (!(smoothing >= 0.0f && smoothing < 1.0f)) {
    throw_js_error(env, std::string(op) + ": labelSmoothing must be in [0, 1), got " + std::to_string(smoothing));
  }
  Targets t{targets, ignore};
  const int64_t V = logits.shape[1];
  for (int64_t r = 0; r < logits.shape[0]; ++r) {
    const int64_t c = t.at(r);
    if (c != ignore && (c < 0 || c >= V)) {
      throw_js_error(env, std::string(op) + ": target " + std::to_string(c) + " of row " + std::to_string(r) +
                              " is outside [0, " + std::to_string(V) + ") and is not ignoreIndex (" +
                              std::to_string(ignore) + ")");
    }
  }
  return t;
}

void check_row_stat(Napi::Env env, const char* op, const View& s, int64_t n, const char* name) {
  require_dtype(env, s, DType::kF32, op, name);
  require_shape(env, s, {n}, op, name, "(N)");
}

}  // namespace

Napi::Value CrossEntropy(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "crossEntropy";
  View logits = view_from_js(info[0], "crossEntropy: logits");
  View targets = view_from_js(info[1], "crossEntropy: targets");
  View losses = view_from_js(info[2], "crossEntropy: losses");
  View lse = view_from_js(info[3], "crossEntropy: lse");
  const int64_t ignore = info[4].As<Napi::Number>().Int64Value();
  const float smoothing = info[5].As<Napi::Number>().FloatValue();
  Targets t = check(info, op, logits, targets, ignore, smoothing);
  const int64_t N = logits.shape[0], V = logits.shape[1];
  check_row_stat(env, op, losses, N, "losses");
  check_row_stat(env, op, lse, N, "lse");
  if (N == 0) return env.Undefined();
  if (V == 0) throw_js_error(env, "crossEntropy: logits " + shape_string(logits) + " have no classes");
  const NnKernels& k = nn_kernels();
  parallel_for(N, row_grain(V), [&](int64_t r0, int64_t r1) {
    float* bx = scratch(0, V);
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t c = t.at(r);
      float loss = 0.0f;
      const float l = k.cross_entropy_row(load_row(k, logits, r, V, bx), V, c, c == ignore, smoothing, &loss);
      *reinterpret_cast<float*>(element_ptr(losses, r * losses.strides[0])) = loss;
      *reinterpret_cast<float*>(element_ptr(lse, r * lse.strides[0])) = l;
    }
  });
  return env.Undefined();
}

Napi::Value CrossEntropyGrad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "crossEntropyGrad";
  View logits = view_from_js(info[0], "crossEntropyGrad: logits");
  View targets = view_from_js(info[1], "crossEntropyGrad: targets");
  View lse = view_from_js(info[2], "crossEntropyGrad: lse");
  View dlosses = view_from_js(info[3], "crossEntropyGrad: dlosses");
  View dlogits = view_from_js(info[4], "crossEntropyGrad: dlogits");
  const int64_t ignore = info[5].As<Napi::Number>().Int64Value();
  const float smoothing = info[6].As<Napi::Number>().FloatValue();
  Targets t = check(info, op, logits, targets, ignore, smoothing);
  const int64_t N = logits.shape[0], V = logits.shape[1];
  check_row_stat(env, op, lse, N, "lse");
  require_float(env, dlosses, op, "dlosses");
  require_shape(env, dlosses, {N}, op, "dlosses", "(N)");
  require_float(env, dlogits, op, "dlogits");
  require_same_shape(env, logits, dlogits, op, "logits", "dlogits");
  require_dense_rows(env, dlogits, op, "dlogits");
  if (N == 0 || V == 0) return env.Undefined();
  const NnKernels& k = nn_kernels();
  parallel_for(N, row_grain(V), [&](int64_t r0, int64_t r1) {
    float* bx = scratch(0, V);
    float* bd = scratch(1, V);
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t c = t.at(r);
      const float l = *reinterpret_cast<const float*>(element_ptr(lse, r * lse.strides[0]));
      const float dl = static_cast<float>(read_number(dlosses, r));
      float* d = output_row(dlogits, r, bd);
      k.cross_entropy_grad_row(load_row(k, logits, r, V, bx), V, c, c == ignore, smoothing, l, dl, d);
      store_row(k, dlogits, r, V, d);
    }
  });
  return env.Undefined();
}

}  // namespace nn
}  // namespace lmflow
