// A strided view of a typed array, as the TypeScript side passes it to native kernels.
//
// JS shape of a view descriptor (built by src/backends/cpu/native.ts):
//   { data: TypedArray, dtype: number (DType code), offset: number, shape: number[], strides: number[] }
// offset and strides count elements, not bytes. The typed array is used in place (zero copy):
// kernels read and write the JS memory directly, so a view is only valid during the call.
#pragma once

#include <napi.h>

#include <cstdint>

#include "dtype.h"

namespace lmflow {

constexpr int kMaxDims = 8;

struct View {
  void* data = nullptr;  // start of the typed array (not yet offset)
  DType dtype = DType::kF32;
  int ndim = 0;
  int64_t shape[kMaxDims] = {};
  int64_t strides[kMaxDims] = {};
  int64_t offset = 0;

  int64_t numel() const {
    int64_t n = 1;
    for (int i = 0; i < ndim; ++i) n *= shape[i];
    return n;
  }
  // Row-major with no gaps (size-1 dimensions may have any stride).
  bool is_contiguous() const {
    int64_t expected = 1;
    for (int i = ndim - 1; i >= 0; --i) {
      if (shape[i] != 1 && strides[i] != expected) return false;
      expected *= shape[i];
    }
    return true;
  }
  template <typename T>
  T* ptr() const { return static_cast<T*>(data) + offset; }
  void* byte_ptr() const { return static_cast<char*>(data) + offset * dtype_size(dtype); }
};

// Reads a view descriptor; throws a JS TypeError naming `what` (e.g. "matmul: a") when the
// descriptor is malformed or points outside its typed array.
View view_from_js(const Napi::Value& value, const char* what);

// Same, but a JS null/undefined gives a view with data == nullptr (optional operands).
View optional_view_from_js(const Napi::Value& value, const char* what);

// Throws a JS Error with a message (kernels report shape or dtype problems this way).
[[noreturn]] void throw_js_error(Napi::Env env, const std::string& message);

}  // namespace lmflow
