#include "args.h"

#include "convert.h"

namespace lmflow {
namespace ew {

std::string shape_string(const View& v) {
  std::string s = "[";
  for (int d = 0; d < v.ndim; ++d) {
    if (d) s += ", ";
    s += std::to_string(v.shape[d]);
  }
  return s + "]";
}

View view_arg(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* name) {
  return view_from_js(info[i], (std::string(fn) + ": " + name).c_str());
}

std::string string_arg(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* name) {
  if (!info[i].IsString()) throw Napi::TypeError::New(info.Env(), std::string(fn) + ": " + name + " must be a string");
  return info[i].As<Napi::String>().Utf8Value();
}

double number_arg(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* name) {
  if (!info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(fn) + ": " + name + " must be a number");
  return info[i].As<Napi::Number>().DoubleValue();
}

void require_same_shape(Napi::Env env, const char* fn, const char* name_a, const View& a, const char* name_b, const View& b) {
  bool same = a.ndim == b.ndim;
  for (int d = 0; same && d < a.ndim; ++d) same = a.shape[d] == b.shape[d];
  if (!same) {
    throw_js_error(env, std::string(fn) + ": " + name_a + " has shape " + shape_string(a) + " but " + name_b +
                            " has shape " + shape_string(b) + "; expected the same shape");
  }
}

void require_dtype(Napi::Env env, const char* fn, const char* name, const View& v, DType dtype) {
  if (v.dtype != dtype) {
    throw_js_error(env, std::string(fn) + ": " + name + " must be " + dtype_name(dtype) + ", got " + dtype_name(v.dtype));
  }
}

void require_same_dtype(Napi::Env env, const char* fn, const char* name_a, const View& a, const char* name_b, const View& b) {
  if (a.dtype != b.dtype) {
    throw_js_error(env, std::string(fn) + ": " + name_a + " is " + dtype_name(a.dtype) + " but " + name_b + " is " +
                            dtype_name(b.dtype) + "; expected the same dtype");
  }
}

void require_float(Napi::Env env, const char* fn, const char* name, const View& v) {
  if (!is_float_dtype(v.dtype)) {
    throw_js_error(env, std::string(fn) + ": " + name + " must be f32, bf16, f16 or f64, got " + dtype_name(v.dtype));
  }
}

void require_index_dtype(Napi::Env env, const char* fn, const char* name, const View& v) {
  if (v.dtype != DType::kI32 && v.dtype != DType::kI64) {
    throw_js_error(env, std::string(fn) + ": " + name + " must be i32 or i64, got " + dtype_name(v.dtype));
  }
}

int axis_arg(const Napi::CallbackInfo& info, size_t i, const char* fn, int ndim) {
  double a = number_arg(info, i, fn, "axis");
  if (a != static_cast<int>(a) || a < 0 || a >= ndim) {
    throw_js_error(info.Env(), std::string(fn) + ": axis " + Napi::Number::New(info.Env(), a).ToString().Utf8Value() + " is out of range for " +
                                   std::to_string(ndim) + " dimensions");
  }
  return static_cast<int>(a);
}

}  // namespace ew
}  // namespace lmflow
