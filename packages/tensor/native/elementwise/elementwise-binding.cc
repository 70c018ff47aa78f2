// Registers the elementwise area: layout (fill, copy, random), unary, binary, compare,
// scalar, where, reductions and index kernels.
#include <napi.h>


namespace lmflow {
namespace ew {
void RegisterLayout(Napi::Env env, Napi::Object exports);
void RegisterRandom(Napi::Env env, Napi::Object exports);
void RegisterUnary(Napi::Env env, Napi::Object exports);
void RegisterBinary(Napi::Env env, Napi::Object exports);
void RegisterWhere(Napi::Env env, Napi::Object exports);
void RegisterReduce(Napi::Env env, Napi::Object exports);
void RegisterIndexOps(Napi::Env env, Napi::Object exports);
}  // namespace ew

void RegisterElementwise(Napi::Env env, Napi::Object exports) {
  ew::RegisterLayout(env, exports);
  ew::RegisterRandom(env, exports);
  ew::RegisterUnary(env, exports);
  ew::RegisterBinary(env, exports);
  ew::RegisterWhere(env, exports);
  ew::RegisterReduce(env, exports);
  ew::RegisterIndexOps(env, exports);
}

}  // namespace lmflow
