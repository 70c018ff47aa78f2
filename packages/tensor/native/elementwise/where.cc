// where(cond, a, b, out): out = cond ? a : b, selecting raw elements (exact for every dtype).
#include <napi.h>

#include "args.h"
#include "tile.h"

namespace lmflow {
namespace ew {
namespace {

template <typename T>
void where_runs(const Plan<4>& plan, int64_t begin, int64_t end) {
  for_each_run(plan, begin, end, [](char* const* p, int64_t n, const int64_t* s) {
    const uint8_t* c = reinterpret_cast<const uint8_t*>(p[0]);
    const T* a = reinterpret_cast<const T*>(p[1]);
    const T* b = reinterpret_cast<const T*>(p[2]);
    T* o = reinterpret_cast<T*>(p[3]);
    if (s[0] == 1 && s[1] == 1 && s[2] == 1 && s[3] == 1) {
      for (int64_t i = 0; i < n; ++i) o[i] = c[i] ? a[i] : b[i];
    } else {
      for (int64_t i = 0; i < n; ++i) o[i * s[3]] = c[i * s[0]] ? a[i * s[1]] : b[i * s[2]];
    }
  });
}

Napi::Value WhereFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* fn = "where";
  View cond = view_arg(info, 0, fn, "cond");
  View a = view_arg(info, 1, fn, "a");
  View b = view_arg(info, 2, fn, "b");
  View out = view_arg(info, 3, fn, "out");
  require_dtype(env, fn, "cond", cond, DType::kU8);
  require_same_dtype(env, fn, "a", a, "out", out);
  require_same_dtype(env, fn, "b", b, "out", out);
  require_same_shape(env, fn, "cond", cond, "out", out);
  require_same_shape(env, fn, "a", a, "out", out);
  require_same_shape(env, fn, "b", b, "out", out);
  const View* views[4] = {&cond, &a, &b, &out};
  const Plan<4> plan = make_plan<4>(views);
  if (plan.numel == 0) return env.Undefined();
  auto run = [&](auto zero) {
    using T = decltype(zero);
    auto body = [&](int64_t begin, int64_t end) { where_runs<T>(plan, begin, end); };
    if (plan.numel >= kParallelThreshold) parallel_for(plan.numel, kParallelGrain, body);
    else body(0, plan.numel);
  };
  switch (dtype_size(out.dtype)) {
    case 1: run(uint8_t{}); break;
    case 2: run(uint16_t{}); break;
    case 4: run(uint32_t{}); break;
    default: run(uint64_t{}); break;
  }
  return env.Undefined();
}

}  // namespace

void RegisterWhere(Napi::Env env, Napi::Object exports) {
  exports.Set("where", Napi::Function::New(env, WhereFn));
}

}  // namespace ew
}  // namespace lmflow
