// unary(op, x, out) and unaryGrad(op, x, dy, out) for f32, bf16, f16 (f32 compute, SIMD) and
// f64 (double compute with libm).
#include <napi.h>

#include <cmath>

#include "args.h"
#include "fast-math.h"
#include "tile.h"

namespace lmflow {
namespace ew {
namespace {

enum class Unary {
  kNeg, kAbs, kExp, kLog, kSqrt, kRsqrt, kSquare, kReciprocal, kSin, kCos, kTanh, kSigmoid, kRelu,
  kSilu, kGelu, kGeluTanh,
};

Unary parse_unary(Napi::Env env, const std::string& name, const char* fn) {
  static const struct { const char* name; Unary op; } kOps[] = {
      {"neg", Unary::kNeg}, {"abs", Unary::kAbs}, {"exp", Unary::kExp}, {"log", Unary::kLog},
      {"sqrt", Unary::kSqrt}, {"rsqrt", Unary::kRsqrt}, {"square", Unary::kSquare},
      {"reciprocal", Unary::kReciprocal}, {"sin", Unary::kSin}, {"cos", Unary::kCos},
      {"tanh", Unary::kTanh}, {"sigmoid", Unary::kSigmoid}, {"relu", Unary::kRelu},
      {"silu", Unary::kSilu}, {"gelu", Unary::kGelu}, {"gelu_tanh", Unary::kGeluTanh},
  };
  for (const auto& op : kOps) if (name == op.name) return op.op;
  throw_js_error(env, std::string(fn) + ": unknown op \"" + name + "\"");
}

template <typename Fn>
void visit_unary(Unary op, Fn&& fn) {
  switch (op) {
#define LMFLOW_CASE(X) case Unary::X: fn(std::integral_constant<Unary, Unary::X>{}); return;
    LMFLOW_CASE(kNeg) LMFLOW_CASE(kAbs) LMFLOW_CASE(kExp) LMFLOW_CASE(kLog) LMFLOW_CASE(kSqrt)
    LMFLOW_CASE(kRsqrt) LMFLOW_CASE(kSquare) LMFLOW_CASE(kReciprocal) LMFLOW_CASE(kSin)
    LMFLOW_CASE(kCos) LMFLOW_CASE(kTanh) LMFLOW_CASE(kSigmoid) LMFLOW_CASE(kRelu)
    LMFLOW_CASE(kSilu) LMFLOW_CASE(kGelu) LMFLOW_CASE(kGeluTanh)
#undef LMFLOW_CASE
  }
}

// gelu_tanh(x) = x/2 * (1 + tanh(k (x + c x^3))) (GPT-2's gelu_new).
constexpr double kGeluK = 0.79788456080286535588;  // sqrt(2 / pi)
constexpr double kGeluC = 0.044715;
constexpr double kInvSqrt2Pi = 0.39894228040143267794;

template <Unary OP, typename C>
LMFLOW_INLINE C unary_value(C x) {
  if constexpr (OP == Unary::kNeg) return -x;
  else if constexpr (OP == Unary::kAbs) return x < C(0) ? -x : (x == C(0) ? C(0) : x);
  else if constexpr (OP == Unary::kExp) return exp_c(x);
  else if constexpr (OP == Unary::kLog) return log_c(x);
  else if constexpr (OP == Unary::kSqrt) return sqrt_c(x);
  else if constexpr (OP == Unary::kRsqrt) return C(1) / sqrt_c(x);
  else if constexpr (OP == Unary::kSquare) return x * x;
  else if constexpr (OP == Unary::kReciprocal) return C(1) / x;
  else if constexpr (OP == Unary::kSin) return sin_c(x);
  else if constexpr (OP == Unary::kCos) return cos_c(x);
  else if constexpr (OP == Unary::kTanh) return tanh_c(x);
  else if constexpr (OP == Unary::kSigmoid) return sigmoid_c(x);
  else if constexpr (OP == Unary::kRelu) return x <= C(0) ? C(0) : x;  // NaN stays NaN
  else if constexpr (OP == Unary::kSilu) return x * sigmoid_c(x);
  else if constexpr (OP == Unary::kGelu) return x * normal_cdf(x);
  else return C(0.5) * x * (C(1) + tanh_c(C(kGeluK) * (x + C(kGeluC) * x * x * x)));
}

// dy * op'(x).
template <Unary OP, typename C>
LMFLOW_INLINE C unary_grad_value(C x, C dy) {
  if constexpr (OP == Unary::kNeg) return -dy;
  else if constexpr (OP == Unary::kAbs) return x > C(0) ? dy : (x < C(0) ? -dy : C(0));
  else if constexpr (OP == Unary::kExp) return dy * exp_c(x);
  else if constexpr (OP == Unary::kLog) return dy / x;
  else if constexpr (OP == Unary::kSqrt) return dy * C(0.5) / sqrt_c(x);
  else if constexpr (OP == Unary::kRsqrt) return dy * C(-0.5) / (x * sqrt_c(x));
  else if constexpr (OP == Unary::kSquare) return dy * C(2) * x;
  else if constexpr (OP == Unary::kReciprocal) return -dy / (x * x);
  else if constexpr (OP == Unary::kSin) return dy * cos_c(x);
  else if constexpr (OP == Unary::kCos) return -dy * sin_c(x);
  else if constexpr (OP == Unary::kTanh) {
    C t = tanh_c(x);
    return dy * (C(1) - t * t);
  } else if constexpr (OP == Unary::kSigmoid) {
    C s = sigmoid_c(x);
    return dy * s * (C(1) - s);
  } else if constexpr (OP == Unary::kRelu) {
    return x > C(0) ? dy : C(0);
  } else if constexpr (OP == Unary::kSilu) {
    C s = sigmoid_c(x);
    return dy * s * (C(1) + x * (C(1) - s));
  } else if constexpr (OP == Unary::kGelu) {
    return dy * (normal_cdf(x) + x * C(kInvSqrt2Pi) * exp_c(C(-0.5) * x * x));
  } else {
    C x2 = x * x;
    C t = tanh_c(C(kGeluK) * (x + C(kGeluC) * x2 * x));
    C du = C(kGeluK) * (C(1) + C(3 * kGeluC) * x2);
    return dy * (C(0.5) * (C(1) + t) + C(0.5) * x * (C(1) - t * t) * du);
  }
}

template <Unary OP, typename C>
struct UnaryLoop {
  static LMFLOW_INLINE void run(const C* x, C* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] = unary_value<OP, C>(x[i]);
  }
};

template <Unary OP, typename C>
struct UnaryGradLoop {
  static LMFLOW_INLINE void run(const C* x, const C* dy, C* out, int64_t n) {
    for (int64_t i = 0; i < n; ++i) out[i] = unary_grad_value<OP, C>(x[i], dy[i]);
  }
};

// f32 loops get the SIMD paths; f64 loops (gradient checks) run as compiled.
template <class K, typename C, class... A>
void call_loop(A... a) {
  if constexpr (std::is_same_v<C, float>) simd_call<K>(a...);
  else K::run(a...);
}

template <typename C>
void run_unary(Unary op, const View& x, const View& out) {
  visit_unary(op, [&](auto tag) {
    constexpr Unary OP = decltype(tag)::value;
    const View* in[1] = {&x};
    run_tiled<1, C, C>(in, out, [](const C* const* s, C* d, int64_t n) { call_loop<UnaryLoop<OP, C>, C>(s[0], d, n); });
  });
}

template <typename C>
void run_unary_grad(Unary op, const View& x, const View& dy, const View& out) {
  visit_unary(op, [&](auto tag) {
    constexpr Unary OP = decltype(tag)::value;
    const View* in[2] = {&x, &dy};
    run_tiled<2, C, C>(in, out, [](const C* const* s, C* d, int64_t n) {
      call_loop<UnaryGradLoop<OP, C>, C>(s[0], s[1], d, n);
    });
  });
}

Napi::Value UnaryFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* fn = "unary";
  Unary op = parse_unary(env, string_arg(info, 0, fn, "op"), fn);
  View x = view_arg(info, 1, fn, "x");
  View out = view_arg(info, 2, fn, "out");
  require_float(env, fn, "x", x);
  require_same_dtype(env, fn, "x", x, "out", out);
  require_same_shape(env, fn, "x", x, "out", out);
  if (is_f32_family(x.dtype)) run_unary<float>(op, x, out);
  else run_unary<double>(op, x, out);
  return env.Undefined();
}

Napi::Value UnaryGradFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* fn = "unaryGrad";
  Unary op = parse_unary(env, string_arg(info, 0, fn, "op"), fn);
  View x = view_arg(info, 1, fn, "x");
  View dy = view_arg(info, 2, fn, "dy");
  View out = view_arg(info, 3, fn, "out");
  require_float(env, fn, "x", x);
  require_same_dtype(env, fn, "x", x, "dy", dy);
  require_same_dtype(env, fn, "x", x, "out", out);
  require_same_shape(env, fn, "x", x, "dy", dy);
  require_same_shape(env, fn, "x", x, "out", out);
  if (is_f32_family(x.dtype)) run_unary_grad<float>(op, x, dy, out);
  else run_unary_grad<double>(op, x, dy, out);
  return env.Undefined();
}

}  // namespace

void RegisterUnary(Napi::Env env, Napi::Object exports) {
  exports.Set("unary", Napi::Function::New(env, UnaryFn));
  exports.Set("unaryGrad", Napi::Function::New(env, UnaryGradFn));
}

}  // namespace ew
}  // namespace lmflow
