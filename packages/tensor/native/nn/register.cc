// The nn area of the native CPU backend: softmax, norms, rotary embedding, attention and
// cross-entropy (src/backends/cpu/nn.ts wraps these).
#include <napi.h>

#include "nn/bindings.h"

namespace lmflow {

void RegisterNn(Napi::Env env, Napi::Object exports) {
  exports.Set("softmax", Napi::Function::New(env, nn::Softmax));
  exports.Set("softmaxGrad", Napi::Function::New(env, nn::SoftmaxGrad));
  exports.Set("logSoftmax", Napi::Function::New(env, nn::LogSoftmax));
  exports.Set("logSoftmaxGrad", Napi::Function::New(env, nn::LogSoftmaxGrad));
  exports.Set("rmsNorm", Napi::Function::New(env, nn::RmsNorm));
  exports.Set("rmsNormGrad", Napi::Function::New(env, nn::RmsNormGrad));
  exports.Set("layerNorm", Napi::Function::New(env, nn::LayerNorm));
  exports.Set("layerNormGrad", Napi::Function::New(env, nn::LayerNormGrad));
  exports.Set("rope", Napi::Function::New(env, nn::Rope));
  exports.Set("attention", Napi::Function::New(env, nn::Attention));
  exports.Set("attentionGrad", Napi::Function::New(env, nn::AttentionGrad));
  exports.Set("crossEntropy", Napi::Function::New(env, nn::CrossEntropy));
  exports.Set("crossEntropyGrad", Napi::Function::New(env, nn::CrossEntropyGrad));
  // The vectorized exp of the SIMD level in force, for its accuracy test.
  exports.Set("nnExpForTest", Napi::Function::New(env, nn::ExpForTest));
}

}  // namespace lmflow
