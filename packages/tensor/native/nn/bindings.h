// The N-API functions of the nn area, registered by register.cc.
#pragma once

#include <napi.h>

namespace lmflow {
namespace nn {

Napi::Value Softmax(const Napi::CallbackInfo& info);
Napi::Value SoftmaxGrad(const Napi::CallbackInfo& info);
Napi::Value LogSoftmax(const Napi::CallbackInfo& info);
Napi::Value LogSoftmaxGrad(const Napi::CallbackInfo& info);
Napi::Value ExpForTest(const Napi::CallbackInfo& info);
Napi::Value RmsNorm(const Napi::CallbackInfo& info);
Napi::Value RmsNormGrad(const Napi::CallbackInfo& info);
Napi::Value LayerNorm(const Napi::CallbackInfo& info);
Napi::Value LayerNormGrad(const Napi::CallbackInfo& info);
Napi::Value Rope(const Napi::CallbackInfo& info);
Napi::Value Attention(const Napi::CallbackInfo& info);
Napi::Value AttentionGrad(const Napi::CallbackInfo& info);
Napi::Value CrossEntropy(const Napi::CallbackInfo& info);
Napi::Value CrossEntropyGrad(const Napi::CallbackInfo& info);

}  // namespace nn
}  // namespace lmflow
