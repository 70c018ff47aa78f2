#include "nn/binding-util.h"

namespace lmflow {
namespace nn {

std::string shape_string(const View& v) {
  std::string s = "[";
  for (int i = 0; i < v.ndim; ++i) {
    if (i) s += ", ";
    s += std::to_string(v.shape[i]);
  }
  return s + "]";
}

static std::string describe(const View& v) { return std::string(dtype_name(v.dtype)) + " " + shape_string(v); }

void require_float(Napi::Env env, const View& v, const char* op, const char* what) {
  if (v.dtype == DType::kF32 || v.dtype == DType::kBF16 || v.dtype == DType::kF16) return;
  throw_js_error(env, std::string(op) + ": " + what + " must be f32, bf16 or f16 on the cpu backend, got " + describe(v) +
                          (v.dtype == DType::kF64 ? " (f64 runs on the reference backend)" : ""));
}

void require_dtype(Napi::Env env, const View& v, DType dtype, const char* op, const char* what) {
  if (v.dtype == dtype) return;
  throw_js_error(env, std::string(op) + ": " + what + " must be " + dtype_name(dtype) + ", got " + describe(v));
}

void require_rank(Napi::Env env, const View& v, int ndim, const char* op, const char* what) {
  if (v.ndim == ndim) return;
  throw_js_error(env, std::string(op) + ": " + what + " must have " + std::to_string(ndim) + " dimensions, got " +
                          describe(v));
}

void require_dense_rows(Napi::Env env, const View& v, const char* op, const char* what) {
  if (v.ndim == 0 || v.shape[v.ndim - 1] <= 1 || v.strides[v.ndim - 1] == 1) return;
  throw_js_error(env, std::string(op) + ": " + what + " " + describe(v) + " must have a contiguous last dimension, got stride " +
                          std::to_string(v.strides[v.ndim - 1]));
}

void require_contiguous(Napi::Env env, const View& v, const char* op, const char* what) {
  if (v.is_contiguous()) return;
  throw_js_error(env, std::string(op) + ": " + what + " " + describe(v) + " must be contiguous");
}

void require_same_shape(Napi::Env env, const View& a, const View& b, const char* op, const char* a_name,
                        const char* b_name) {
  bool same = a.ndim == b.ndim;
  for (int i = 0; same && i < a.ndim; ++i) same = a.shape[i] == b.shape[i];
  if (same) return;
  throw_js_error(env, std::string(op) + ": " + a_name + " " + shape_string(a) + " and " + b_name + " " + shape_string(b) +
                          " must have the same shape");
}

void require_shape(Napi::Env env, const View& v, std::initializer_list<int64_t> dims, const char* op, const char* what,
                   const char* meaning) {
  bool same = v.ndim == static_cast<int>(dims.size());
  int i = 0;
  for (int64_t d : dims) {
    if (!same) break;
    same = v.shape[i++] == d;
  }
  if (same) return;
  std::string expected = "[";
  i = 0;
  for (int64_t d : dims) expected += (i++ ? ", " : "") + std::to_string(d);
  throw_js_error(env, std::string(op) + ": " + what + " must have shape " + expected + "] " + meaning + ", got " +
                          describe(v));
}

double read_number(const View& v, int64_t i) {
  int64_t off = 0;
  for (int d = v.ndim - 1; d >= 0; --d) {
    off += (i % v.shape[d]) * v.strides[d];
    i /= v.shape[d];
  }
  const char* p = element_ptr(v, off);
  switch (v.dtype) {
    case DType::kF32: return *reinterpret_cast<const float*>(p);
    case DType::kBF16: return bf16_to_f32(*reinterpret_cast<const uint16_t*>(p));
    case DType::kF16: return f16_to_f32(*reinterpret_cast<const uint16_t*>(p));
    case DType::kI32: return *reinterpret_cast<const int32_t*>(p);
    case DType::kI64: return static_cast<double>(*reinterpret_cast<const int64_t*>(p));
    case DType::kU8: return *reinterpret_cast<const uint8_t*>(p);
    case DType::kF64: return *reinterpret_cast<const double*>(p);
  }
  return 0;
}

float* scratch(int slot, int64_t n) {
  // Pool threads live as long as the process, so each keeps its buffers between calls.
  thread_local std::vector<float> buffers[8];
  std::vector<float>& b = buffers[slot];
  if (static_cast<int64_t>(b.size()) < n) b.resize(static_cast<size_t>(n));
  return b.data();
}

std::vector<float> dense_f32(const NnKernels& k, const View& v) {
  const int64_t n = v.numel();
  std::vector<float> out(static_cast<size_t>(n));
  if (v.ndim == 1 && (v.strides[0] == 1 || n <= 1)) {
    k.to_f32(element_ptr(v, 0), v.dtype, out.data(), n);
  } else {
    for (int64_t i = 0; i < n; ++i) out[i] = static_cast<float>(read_number(v, i));
  }
  return out;
}

}  // namespace nn
}  // namespace lmflow
