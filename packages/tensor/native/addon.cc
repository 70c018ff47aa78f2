// Entry point of the native CPU backend. Each area of kernels registers its own functions;
// the declarations are weak so that a development build of a subset of areas still loads
// (tools/native-dev-build.mjs), with the TypeScript side naming any function that is missing.
#include <napi.h>

#include "common/cpu-features.h"
#include "common/thread-pool.h"

namespace lmflow {
void RegisterCommon(Napi::Env env, Napi::Object exports);
void RegisterGemm(Napi::Env env, Napi::Object exports) __attribute__((weak));
void RegisterElementwise(Napi::Env env, Napi::Object exports) __attribute__((weak));
void RegisterNn(Napi::Env env, Napi::Object exports) __attribute__((weak));
void RegisterOptim(Napi::Env env, Napi::Object exports) __attribute__((weak));
}  // namespace lmflow

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  lmflow::RegisterCommon(env, exports);
  if (lmflow::RegisterGemm) lmflow::RegisterGemm(env, exports);
  if (lmflow::RegisterElementwise) lmflow::RegisterElementwise(env, exports);
  if (lmflow::RegisterNn) lmflow::RegisterNn(env, exports);
  if (lmflow::RegisterOptim) lmflow::RegisterOptim(env, exports);
  return exports;
}

NODE_API_MODULE(lmflow_cpu, Init)
