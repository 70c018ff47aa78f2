// Argument checks shared by the elementwise N-API functions. The op layer validates user
// input first; these guard the kernels against misuse from TypeScript (a wrong shape must be
// an error, never an out-of-bounds access), with messages naming the function and operand.
#pragma once

#include <napi.h>

#include <string>

#include "common/napi-view.h"

namespace lmflow {
namespace ew {

std::string shape_string(const View& v);

// The view at info[i], named "<fn>: <name>" in errors.
View view_arg(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* name);
std::string string_arg(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* name);
double number_arg(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* name);

void require_same_shape(Napi::Env env, const char* fn, const char* name_a, const View& a, const char* name_b, const View& b);
void require_dtype(Napi::Env env, const char* fn, const char* name, const View& v, DType dtype);
void require_same_dtype(Napi::Env env, const char* fn, const char* name_a, const View& a, const char* name_b, const View& b);
// f32, bf16, f16 or f64.
void require_float(Napi::Env env, const char* fn, const char* name, const View& v);
void require_index_dtype(Napi::Env env, const char* fn, const char* name, const View& v);
int axis_arg(const Napi::CallbackInfo& info, size_t i, const char* fn, int ndim);

}  // namespace ew
}  // namespace lmflow
