// binary(op, a, b, out), compare(op, a, b, out) and scalar(op, x, s, out): the f32 family
// computes in f32 (SIMD), f64 and the integer dtypes in double, as the reference does
// (integer results truncate toward zero when stored).
#include <napi.h>

#include <cmath>

#include "args.h"
#include "tile.h"

namespace lmflow {
namespace ew {
namespace {

enum class Binary { kAdd, kSub, kMul, kDiv, kMaximum, kMinimum, kPow };
enum class Compare { kEq, kNe, kLt, kLe, kGt, kGe };
enum class Scalar { kAdd, kMul, kPow, kMaximum, kMinimum, kRsub, kRdiv };

template <typename E>
struct Named {
  const char* name;
  E op;
};

template <typename E, size_t N>
E parse_op(Napi::Env env, const Named<E> (&ops)[N], const std::string& name, const char* fn) {
  for (const auto& op : ops) if (name == op.name) return op.op;
  throw_js_error(env, std::string(fn) + ": unknown op \"" + name + "\"");
}

constexpr Named<Binary> kBinaryOps[] = {
    {"add", Binary::kAdd}, {"sub", Binary::kSub}, {"mul", Binary::kMul}, {"div", Binary::kDiv},
    {"maximum", Binary::kMaximum}, {"minimum", Binary::kMinimum}, {"pow", Binary::kPow},
};
constexpr Named<Compare> kCompareOps[] = {
    {"eq", Compare::kEq}, {"ne", Compare::kNe}, {"lt", Compare::kLt},
    {"le", Compare::kLe}, {"gt", Compare::kGt}, {"ge", Compare::kGe},
};
constexpr Named<Scalar> kScalarOps[] = {
    {"add", Scalar::kAdd}, {"mul", Scalar::kMul}, {"pow", Scalar::kPow}, {"maximum", Scalar::kMaximum},
    {"minimum", Scalar::kMinimum}, {"rsub", Scalar::kRsub}, {"rdiv", Scalar::kRdiv},
};

// maximum/minimum propagate NaN from either side, like torch.maximum and Math.max.
template <typename C>
LMFLOW_INLINE C max_nan(C a, C b) { return (a > b || a != a) ? a : b; }
template <typename C>
LMFLOW_INLINE C min_nan(C a, C b) { return (a < b || a != a) ? a : b; }

template <Binary OP, typename C>
LMFLOW_INLINE C binary_value(C a, C b) {
  if constexpr (OP == Binary::kAdd) return a + b;
  else if constexpr (OP == Binary::kSub) return a - b;
  else if constexpr (OP == Binary::kMul) return a * b;
  else if constexpr (OP == Binary::kDiv) return a / b;
  else if constexpr (OP == Binary::kMaximum) return max_nan(a, b);
  else if constexpr (OP == Binary::kMinimum) return min_nan(a, b);
  else return std::pow(a, b);
}

template <Compare OP, typename C>
LMFLOW_INLINE uint8_t compare_value(C a, C b) {
  if constexpr (OP == Compare::kEq) return a == b;
  else if constexpr (OP == Compare::kNe) return a != b;
  else if constexpr (OP == Compare::kLt) return a < b;
  else if constexpr (OP == Compare::kLe) return a <= b;
  else if constexpr (OP == Compare::kGt) return a > b;
  else return a >= b;
}

template <Scalar OP, typename C>
LMFLOW_INLINE C scalar_value(C x, C s) {
  if constexpr (OP == Scalar::kAdd) return x + s;
  else if constexpr (OP == Scalar::kMul) return x * s;
  else if constexpr (OP == Scalar::kMaximum) return max_nan(x, s);
  else if constexpr (OP == Scalar::kMinimum) return min_nan(x, s);
  else if constexpr (OP == Scalar::kRsub) return s - x;
  else if constexpr (OP == Scalar::kRdiv) return s / x;
  else return std::pow(x, s);
}

template <Binary OP, typename C>
struct BinaryLoop {
  static LMFLOW_INLINE void run(const C* a, const C* b, C* out, int64_t n) {
    for (int64_t i = 0; i < n; ++i) out[i] = binary_value<OP, C>(a[i], b[i]);
  }
};

template <Compare OP, typename C>
struct CompareLoop {
  static LMFLOW_INLINE void run(const C* a, const C* b, uint8_t* out, int64_t n) {
    for (int64_t i = 0; i < n; ++i) out[i] = compare_value<OP, C>(a[i], b[i]);
  }
};

template <Scalar OP, typename C>
struct ScalarLoop {
  static LMFLOW_INLINE void run(const C* x, C s, C* out, int64_t n) {
    for (int64_t i = 0; i < n; ++i) out[i] = scalar_value<OP, C>(x[i], s);
  }
};

// x^2 is common (squared errors, variances) and exact as a product: no libm call.
template <typename C>
struct SquareLoop {
  static LMFLOW_INLINE void run(const C* x, C* out, int64_t n) {
    for (int64_t i = 0; i < n; ++i) out[i] = x[i] * x[i];
  }
};

template <class K, typename C, class... A>
void call_loop(A... a) {
  if constexpr (std::is_same_v<C, float>) simd_call<K>(a...);
  else K::run(a...);
}

template <typename Fn>
void visit_binary(Binary op, Fn&& fn) {
  switch (op) {
    case Binary::kAdd: return fn(std::integral_constant<Binary, Binary::kAdd>{});
    case Binary::kSub: return fn(std::integral_constant<Binary, Binary::kSub>{});
    case Binary::kMul: return fn(std::integral_constant<Binary, Binary::kMul>{});
    case Binary::kDiv: return fn(std::integral_constant<Binary, Binary::kDiv>{});
    case Binary::kMaximum: return fn(std::integral_constant<Binary, Binary::kMaximum>{});
    case Binary::kMinimum: return fn(std::integral_constant<Binary, Binary::kMinimum>{});
    case Binary::kPow: return fn(std::integral_constant<Binary, Binary::kPow>{});
  }
}

template <typename Fn>
void visit_compare(Compare op, Fn&& fn) {
  switch (op) {
    case Compare::kEq: return fn(std::integral_constant<Compare, Compare::kEq>{});
    case Compare::kNe: return fn(std::integral_constant<Compare, Compare::kNe>{});
    case Compare::kLt: return fn(std::integral_constant<Compare, Compare::kLt>{});
    case Compare::kLe: return fn(std::integral_constant<Compare, Compare::kLe>{});
    case Compare::kGt: return fn(std::integral_constant<Compare, Compare::kGt>{});
    case Compare::kGe: return fn(std::integral_constant<Compare, Compare::kGe>{});
  }
}

template <typename Fn>
void visit_scalar(Scalar op, Fn&& fn) {
  switch (op) {
    case Scalar::kAdd: return fn(std::integral_constant<Scalar, Scalar::kAdd>{});
    case Scalar::kMul: return fn(std::integral_constant<Scalar, Scalar::kMul>{});
    case Scalar::kPow: return fn(std::integral_constant<Scalar, Scalar::kPow>{});
    case Scalar::kMaximum: return fn(std::integral_constant<Scalar, Scalar::kMaximum>{});
    case Scalar::kMinimum: return fn(std::integral_constant<Scalar, Scalar::kMinimum>{});
    case Scalar::kRsub: return fn(std::integral_constant<Scalar, Scalar::kRsub>{});
    case Scalar::kRdiv: return fn(std::integral_constant<Scalar, Scalar::kRdiv>{});
  }
}

template <typename C>
void run_binary(Binary op, const View& a, const View& b, const View& out) {
  visit_binary(op, [&](auto tag) {
    constexpr Binary OP = decltype(tag)::value;
    const View* in[2] = {&a, &b};
    run_tiled<2, C, C>(in, out, [](const C* const* s, C* d, int64_t n) { call_loop<BinaryLoop<OP, C>, C>(s[0], s[1], d, n); });
  });
}

template <typename C>
void run_compare(Compare op, const View& a, const View& b, const View& out) {
  visit_compare(op, [&](auto tag) {
    constexpr Compare OP = decltype(tag)::value;
    const View* in[2] = {&a, &b};
    run_tiled<2, C, uint8_t>(in, out, [](const C* const* s, uint8_t* d, int64_t n) {
      call_loop<CompareLoop<OP, C>, C>(s[0], s[1], d, n);
    });
  });
}

template <typename C>
void run_scalar(Scalar op, const View& x, double s, const View& out) {
  const View* in[1] = {&x};
  if (op == Scalar::kPow && s == 2.0) {
    run_tiled<1, C, C>(in, out, [](const C* const* v, C* d, int64_t n) { call_loop<SquareLoop<C>, C>(v[0], d, n); });
    return;
  }
  const C sc = static_cast<C>(s);
  visit_scalar(op, [&](auto tag) {
    constexpr Scalar OP = decltype(tag)::value;
    run_tiled<1, C, C>(in, out, [sc](const C* const* v, C* d, int64_t n) { call_loop<ScalarLoop<OP, C>, C>(v[0], sc, d, n); });
  });
}

Napi::Value BinaryFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* fn = "binary";
  Binary op = parse_op(env, kBinaryOps, string_arg(info, 0, fn, "op"), fn);
  View a = view_arg(info, 1, fn, "a");
  View b = view_arg(info, 2, fn, "b");
  View out = view_arg(info, 3, fn, "out");
  require_same_dtype(env, fn, "a", a, "b", b);
  require_same_dtype(env, fn, "a", a, "out", out);
  require_same_shape(env, fn, "a", a, "out", out);
  require_same_shape(env, fn, "b", b, "out", out);
  if (is_f32_family(a.dtype)) run_binary<float>(op, a, b, out);
  else run_binary<double>(op, a, b, out);
  return env.Undefined();
}

Napi::Value CompareFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* fn = "compare";
  Compare op = parse_op(env, kCompareOps, string_arg(info, 0, fn, "op"), fn);
  View a = view_arg(info, 1, fn, "a");
  View b = view_arg(info, 2, fn, "b");
  View out = view_arg(info, 3, fn, "out");
  require_same_dtype(env, fn, "a", a, "b", b);
  require_dtype(env, fn, "out", out, DType::kU8);
  require_same_shape(env, fn, "a", a, "out", out);
  require_same_shape(env, fn, "b", b, "out", out);
  if (is_f32_family(a.dtype)) run_compare<float>(op, a, b, out);
  else run_compare<double>(op, a, b, out);
  return env.Undefined();
}

Napi::Value ScalarFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* fn = "scalar";
  Scalar op = parse_op(env, kScalarOps, string_arg(info, 0, fn, "op"), fn);
  View x = view_arg(info, 1, fn, "x");
  double s = number_arg(info, 2, fn, "s");
  View out = view_arg(info, 3, fn, "out");
  require_same_dtype(env, fn, "x", x, "out", out);
  require_same_shape(env, fn, "x", x, "out", out);
  if (is_f32_family(x.dtype)) run_scalar<float>(op, x, s, out);
  else run_scalar<double>(op, x, s, out);
  return env.Undefined();
}

}  // namespace

void RegisterBinary(Napi::Env env, Napi::Object exports) {
  exports.Set("binary", Napi::Function::New(env, BinaryFn));
  exports.Set("compare", Napi::Function::New(env, CompareFn));
  exports.Set("scalar", Napi::Function::New(env, ScalarFn));
}

}  // namespace ew
}  // namespace lmflow
