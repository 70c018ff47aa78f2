#include "napi-view.h"

#include <string>

namespace lmflow {

void throw_js_error(Napi::Env env, const std::string& message) {
  throw Napi::Error::New(env, message);
}

View view_from_js(const Napi::Value& value, const char* what) {
  Napi::Env env = value.Env();
  if (!value.IsObject()) throw Napi::TypeError::New(env, std::string(what) + ": expected a view descriptor");
  Napi::Object obj = value.As<Napi::Object>();
  Napi::Value data = obj.Get("data");
  if (!data.IsTypedArray()) throw Napi::TypeError::New(env, std::string(what) + ": view.data must be a TypedArray");
  Napi::TypedArray array = data.As<Napi::TypedArray>();
  View v;
  v.dtype = static_cast<DType>(obj.Get("dtype").As<Napi::Number>().Int32Value());
  v.offset = obj.Get("offset").As<Napi::Number>().Int64Value();
  Napi::Array shape = obj.Get("shape").As<Napi::Array>();
  Napi::Array strides = obj.Get("strides").As<Napi::Array>();
  v.ndim = static_cast<int>(shape.Length());
  if (v.ndim > kMaxDims || strides.Length() != shape.Length()) {
    throw Napi::TypeError::New(env, std::string(what) + ": a view has at most 8 dimensions and one stride per dimension");
  }
  for (int i = 0; i < v.ndim; ++i) {
    v.shape[i] = shape.Get(static_cast<uint32_t>(i)).As<Napi::Number>().Int64Value();
    v.strides[i] = strides.Get(static_cast<uint32_t>(i)).As<Napi::Number>().Int64Value();
  }
  int64_t elem = dtype_size(v.dtype);
  if (elem == 0) throw Napi::TypeError::New(env, std::string(what) + ": unknown dtype code");
  int64_t length = static_cast<int64_t>(array.ByteLength()) / elem;
  // Bounds: the lowest and highest element the view can touch must lie in the array.
  int64_t lo = v.offset, hi = v.offset;
  bool empty = false;
  for (int i = 0; i < v.ndim; ++i) {
    if (v.shape[i] == 0) empty = true;
    int64_t span = (v.shape[i] - 1) * v.strides[i];
    if (span < 0) lo += span; else hi += span;
  }
  if (!empty && (lo < 0 || hi >= length)) {
    throw Napi::RangeError::New(env, std::string(what) + ": view reaches outside its storage");
  }
  v.data = static_cast<char*>(array.ArrayBuffer().Data()) + array.ByteOffset();
  return v;
}

View optional_view_from_js(const Napi::Value& value, const char* what) {
  if (value.IsNull() || value.IsUndefined()) return View{};
  return view_from_js(value, what);
}

}  // namespace lmflow
