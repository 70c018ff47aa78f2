// Functions about the backend itself: threads and the SIMD level in use.
#include <napi.h>

#include "cpu-features.h"
#include "thread-pool.h"

namespace lmflow {
namespace {

Napi::Value NumThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), num_threads());
}

Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  set_num_threads(info[0].As<Napi::Number>().Int32Value());
  return info.Env().Undefined();
}

Napi::Value SimdLevelName(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), simd_level_name(simd_level()));
}

Napi::Value SetSimdLevel(const Napi::CallbackInfo& info) {
  std::string name = info[0].As<Napi::String>().Utf8Value();
  SimdLevel level = name == "avx512" ? SimdLevel::kAvx512 : name == "avx2" ? SimdLevel::kAvx2 : SimdLevel::kScalar;
  set_simd_level(level);
  return Napi::String::New(info.Env(), simd_level_name(simd_level()));
}

}  // namespace

void RegisterCommon(Napi::Env env, Napi::Object exports) {
  exports.Set("numThreads", Napi::Function::New(env, NumThreads));
  exports.Set("setNumThreads", Napi::Function::New(env, SetNumThreads));
  exports.Set("simdLevel", Napi::Function::New(env, SimdLevelName));
  exports.Set("setSimdLevel", Napi::Function::New(env, SetSimdLevel));
}

}  // namespace lmflow
