// random(out, kind, a, b, seed, offset): element i (row-major) of out uses counter offset + i
// (normal: offset + 2i and offset + 2i + 1). Values are computed in double exactly as
// src/random.ts does, then rounded to out's dtype once.
// dropout(x, out, p, seed, offset): out = x * bernoulli(1 - p) / (1 - p) in one pass, the mask
// drawn exactly as random(bernoulli) draws it, the product as binary mul then scalar mul round
// it (x * mask is exact), so the result equals the three-op composition bit for bit.
#include <napi.h>

#include "args.h"
#include "random.h"
#include "simd.h"
#include "tile.h"

namespace lmflow {
namespace ew {
namespace {

enum class Kind { kUniform, kNormal, kBernoulli };

// Counters are integers below 2^53: JS numbers, passed as doubles.
uint64_t counter_arg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  double v = number_arg(info, i, "random", name);
  if (!(v >= 0 && v <= 9007199254740992.0) || v != std::floor(v)) {
    throw_js_error(info.Env(), std::string("random: ") + name + " must be an integer in [0, 2^53], got " +
                                   info[i].ToString().Utf8Value());
  }
  return static_cast<uint64_t>(v);
}

// Values of elements [first, first + n): counter offset + i (normal: offset + 2i and + 1).
template <Kind K>
void draw(double* values, int64_t n, uint64_t offset, uint64_t first, RandomKeys keys, double a, double b,
          uint64_t threshold) {
  for (int64_t j = 0; j < n; ++j) {
    uint64_t i = first + static_cast<uint64_t>(j);
    if constexpr (K == Kind::kUniform) values[j] = a + (b - a) * uniform_at(keys, offset + i);
    else if constexpr (K == Kind::kNormal) values[j] = a + b * normal_at(keys, offset + 2 * i);
    else values[j] = bernoulli_at(keys, offset + i, threshold);
  }
}

template <Kind K>
void fill_random(const View& out, RandomKeys keys, uint64_t offset, double a, double b) {
  const View* views[1] = {&out};
  const Plan<1> plan = make_plan<1>(views);
  if (plan.numel == 0) return;
  const uint64_t threshold = K == Kind::kBernoulli ? bernoulli_threshold(a) : 0;
  auto body = [&](int64_t begin, int64_t end) {
    alignas(64) double values[kTile];
    Cursor<1> cur(plan, begin);
    for (int64_t pos = begin; pos < end;) {
      int64_t n = std::min(cur.run_left(), std::min<int64_t>(kTile, end - pos));
      draw<K>(values, n, offset, static_cast<uint64_t>(pos), keys, a, b, threshold);
      store_run<double>(values, out.dtype, cur.ptr[0], plan.inner_stride(0), n);
      cur.advance(n);
      pos += n;
    }
  };
  if (plan.numel >= kParallelThreshold / 4) parallel_for(plan.numel, kParallelGrain / 4, body);
  else body(0, plan.numel);
}

// One run of dropout: element i uses counter c + i, whose high word (hashed once into hh) stays
// the same over the run; bits = hash32(hash32(lo ^ k1) + hh) is random_bits. A plain loop that
// GCC vectorizes for each SIMD level (simd.h); a dropped element is x * 0 (a signed zero, NaN
// for NaN), as the composition gives.
template <typename C>
struct DropoutRun {
  static LMFLOW_INLINE void run(const C* in, C* out, int64_t n, uint32_t lo, uint32_t k1, uint32_t hh, uint32_t threshold, bool all, C scale) {
    for (int64_t i = 0; i < n; ++i) {
      const uint32_t bits = hash32(hash32((lo + static_cast<uint32_t>(i)) ^ k1) + hh);
      out[i] = in[i] * ((all || bits < threshold) ? scale : C(0));
    }
  }
};

template <typename C>
void dropout_runs(const View& x, const View& out, RandomKeys keys, uint64_t offset, uint64_t threshold, C scale) {
  const View* views[2] = {&x, &out};
  const Plan<2> plan = make_plan<2>(views);
  if (plan.numel == 0) return;
  const bool all = threshold > 0xffffffffull;  // p == 0: every bit pattern keeps
  const uint32_t threshold32 = all ? 0u : static_cast<uint32_t>(threshold);
  auto body = [&](int64_t begin, int64_t end) {
    alignas(64) C in_buf[kTile];
    alignas(64) C out_buf[kTile];
    Cursor<2> cur(plan, begin);
    for (int64_t pos = begin; pos < end;) {
      const int64_t n = std::min(cur.run_left(), std::min<int64_t>(kTile, end - pos));
      const C* in = load_run<C>(x.dtype, cur.ptr[0], plan.inner_stride(0), n, in_buf);
      uint64_t c = offset + static_cast<uint64_t>(pos);
      for (int64_t j = 0; j < n;) {
        const uint32_t hi = static_cast<uint32_t>(c >> 32);
        const uint64_t room = (static_cast<uint64_t>(hi) + 1) * 4294967296ull - c;  // counters before hi changes
        const int64_t m = static_cast<int64_t>(std::min<uint64_t>(room, static_cast<uint64_t>(n - j)));
        simd_call<DropoutRun<C>>(in + j, out_buf + j, m, static_cast<uint32_t>(c), keys.k1, hash32(hi ^ keys.k2), threshold32, all, scale);
        j += m;
        c += static_cast<uint64_t>(m);
      }
      store_run<C>(out_buf, out.dtype, cur.ptr[1], plan.inner_stride(1), n);
      cur.advance(n);
      pos += n;
    }
  };
  if (plan.numel >= kParallelThreshold / 4) parallel_for(plan.numel, kParallelGrain / 4, body);
  else body(0, plan.numel);
}

Napi::Value DropoutFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* fn = "dropout";
  View x = view_arg(info, 0, fn, "x");
  View out = view_arg(info, 1, fn, "out");
  const double p = number_arg(info, 2, fn, "p");
  RandomKeys keys = seed_keys(counter_arg(info, 3, "seed"));
  uint64_t offset = counter_arg(info, 4, "offset");
  if (!is_float_dtype(x.dtype) || x.dtype != out.dtype) {
    throw_js_error(env, std::string("dropout: x and out must share a floating dtype, got ") + dtype_name(x.dtype) + " and " + dtype_name(out.dtype));
  }
  if (!(p >= 0 && p < 1)) throw_js_error(env, "dropout: p must be in [0, 1), got " + std::to_string(p));
  const uint64_t threshold = bernoulli_threshold(1 - p);
  const double scale = 1 / (1 - p);
  if (x.dtype == DType::kF64) dropout_runs<double>(x, out, keys, offset, threshold, scale);
  else dropout_runs<float>(x, out, keys, offset, threshold, static_cast<float>(scale));
  return env.Undefined();
}

Napi::Value RandomFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* fn = "random";
  View out = view_arg(info, 0, fn, "out");
  std::string kind = string_arg(info, 1, fn, "kind");
  double a = number_arg(info, 2, fn, "a");
  double b = number_arg(info, 3, fn, "b");
  RandomKeys keys = seed_keys(counter_arg(info, 4, "seed"));
  uint64_t offset = counter_arg(info, 5, "offset");
  if (kind == "uniform" || kind == "normal") {
    if (!is_float_dtype(out.dtype)) {
      throw_js_error(env, std::string("random: ") + kind + " needs a floating out (f32, bf16, f16, f64), got " + dtype_name(out.dtype));
    }
    if (kind == "uniform") fill_random<Kind::kUniform>(out, keys, offset, a, b);
    else fill_random<Kind::kNormal>(out, keys, offset, a, b);
  } else if (kind == "bernoulli") {
    fill_random<Kind::kBernoulli>(out, keys, offset, a, b);
  } else {
    throw_js_error(env, "random: unknown kind \"" + kind + "\"; expected uniform, normal or bernoulli");
  }
  return env.Undefined();
}

}  // namespace

void RegisterRandom(Napi::Env env, Napi::Object exports) {
  exports.Set("random", Napi::Function::New(env, RandomFn));
  exports.Set("dropout", Napi::Function::New(env, DropoutFn));
}

}  // namespace ew
}  // namespace lmflow
