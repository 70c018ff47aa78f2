// Helpers shared by the nn bindings: argument checks with messages that name the kernel and
// operand, row addressing of strided views, per-thread scratch, dtype-converting row access.
#pragma once

#include <napi.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "common/napi-view.h"
#include "nn/kernels.h"

namespace lmflow {
namespace nn {

std::string shape_string(const View& v);

// "<op>: <what> must be f32, bf16 or f16 on the cpu backend, got <dtype> [shape]".
void require_float(Napi::Env env, const View& v, const char* op, const char* what);
void require_dtype(Napi::Env env, const View& v, DType dtype, const char* op, const char* what);
void require_rank(Napi::Env env, const View& v, int ndim, const char* op, const char* what);
// The last dimension has stride 1 (rows are dense); other strides may be anything.
void require_dense_rows(Napi::Env env, const View& v, const char* op, const char* what);
void require_contiguous(Napi::Env env, const View& v, const char* op, const char* what);
void require_same_shape(Napi::Env env, const View& a, const View& b, const char* op, const char* a_name,
                        const char* b_name);
// Shape of v equals the given dims.
void require_shape(Napi::Env env, const View& v, std::initializer_list<int64_t> dims, const char* op,
                   const char* what, const char* meaning);

inline int64_t last_dim(const View& v) { return v.ndim == 0 ? 1 : v.shape[v.ndim - 1]; }
inline int64_t row_count(const View& v) {
  int64_t n = 1;
  for (int i = 0; i + 1 < v.ndim; ++i) n *= v.shape[i];
  return n;
}

// Element offset (from v.offset) of row r, rows being every dimension but the last.
inline int64_t row_offset(const View& v, int64_t r) {
  int64_t off = 0;
  for (int i = v.ndim - 2; i >= 0; --i) {
    const int64_t size = v.shape[i];
    off += (r % size) * v.strides[i];
    r /= size;
  }
  return off;
}

// Pointer to the element `off` elements past v's start.
inline char* element_ptr(const View& v, int64_t off) {
  return static_cast<char*>(v.data) + (v.offset + off) * dtype_size(v.dtype);
}

// Element i (row-major over v's shape) of an integer or float view, as a double.
double read_number(const View& v, int64_t i);

// A per-thread f32 buffer of at least n floats; slot picks one of a few independent buffers.
float* scratch(int slot, int64_t n);

// A 1-D float view as a dense f32 vector (weights, biases, inverse frequencies).
std::vector<float> dense_f32(const NnKernels& k, const View& v);

// Row r of v as f32: v's own memory when it is f32, else converted into buf.
inline const float* load_row(const NnKernels& k, const View& v, int64_t r, int64_t n, float* buf) {
  const void* p = element_ptr(v, row_offset(v, r));
  if (v.dtype == DType::kF32) return static_cast<const float*>(p);
  k.to_f32(p, v.dtype, buf, n);
  return buf;
}

// Where a kernel should write row r of v: v's memory when f32, else buf (then store_row).
inline float* output_row(const View& v, int64_t r, float* buf) {
  return v.dtype == DType::kF32 ? reinterpret_cast<float*>(element_ptr(v, row_offset(v, r))) : buf;
}

inline void store_row(const NnKernels& k, const View& v, int64_t r, int64_t n, const float* data) {
  if (v.dtype != DType::kF32) k.from_f32(data, element_ptr(v, row_offset(v, r)), v.dtype, n);
}

// Rows per parallel chunk so that a chunk holds at least ~32K elements.
inline int64_t row_grain(int64_t n) { return n >= 32768 ? 1 : 32768 / (n > 0 ? n : 1); }

}  // namespace nn
}  // namespace lmflow
