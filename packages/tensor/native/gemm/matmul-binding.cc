// Backend.matmul for the CPU backend (src/backend.ts: MatmulOps):
//   out = alpha * a @ b + beta * out, batched over the leading dims (any batch strides, 0 too).
// Each matrix of a or b goes to the GEMM as it lies when it is row-major or transposed (with
// any leading stride); any other layout is first gathered into a contiguous f32 copy.
#include <napi.h>

#include <string>
#include <vector>

#include "common/napi-view.h"
#include "common/thread-pool.h"
#include "gemm/gemm-kernels.h"
#include "gemm/gemm-skinny.h"

namespace lmflow {

// native/bench registers its functions here when it is compiled in (benchmarks only).
void RegisterBench(Napi::Env env, Napi::Object exports) __attribute__((weak));

namespace {

std::string shape_string(const View& v) {
  std::string s = "[";
  for (int i = 0; i < v.ndim; ++i) s += (i ? ", " : "") + std::to_string(v.shape[i]);
  return s + "]";
}

void require_float(Napi::Env env, const View& v, const char* role) {
  if (v.dtype == DType::kF32 || v.dtype == DType::kBF16 || v.dtype == DType::kF16) return;
  if (v.dtype == DType::kF64) {
    throw_js_error(env, std::string("matmul: ") + role +
                            " is f64; the cpu backend computes in f32 (f64 is for the reference backend: "
                            "cast to f32, bf16 or f16, or use device 'reference')");
  }
  throw_js_error(env, std::string("matmul: ") + role + " must be f32, bf16 or f16, got " + dtype_name(v.dtype));
}

// One matrix (rows x cols) of a batched view, as a GEMM operand.
struct MatrixLayout {
  bool trans;
  int64_t ld;
  bool gather;  // neither row-major nor transposed: needs a contiguous copy
};

MatrixLayout layout_of(const View& v) {
  const int64_t rows = v.shape[v.ndim - 2], cols = v.shape[v.ndim - 1];
  const int64_t rs = v.strides[v.ndim - 2], cs = v.strides[v.ndim - 1];
  if (cs == 1 || cols == 1) return {false, rs, false};
  if (rs == 1 || rows == 1) return {true, cs, false};
  return {false, 0, true};
}

// Element offsets of batch entry `index` (row-major over the leading dims) in each view.
struct BatchWalk {
  int dims;
  const int64_t* shape;

  int64_t offset(const View& v, int64_t index) const {
    int64_t off = v.offset;
    for (int d = dims - 1; d >= 0; --d) {
      off += (index % shape[d]) * v.strides[d];
      index /= shape[d];
    }
    return off;
  }
};

// A contiguous f32 copy of every matrix of v (batch entries in row-major order).
std::vector<float> gather_f32(const View& v, const BatchWalk& walk, int64_t batch) {
  const int64_t rows = v.shape[v.ndim - 2], cols = v.shape[v.ndim - 1];
  const int64_t rs = v.strides[v.ndim - 2], cs = v.strides[v.ndim - 1];
  std::vector<float> out(static_cast<size_t>(batch * rows * cols));
  for (int64_t i = 0; i < batch; ++i) {
    const int64_t base = walk.offset(v, i);
    float* dst = out.data() + i * rows * cols;
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = 0; c < cols; ++c) dst[r * cols + c] = gemm_detail::load_as_f32(v.data, v.dtype, base + r * rs + c * cs);
    }
  }
  return out;
}

// Below this many multiply-adds per matrix, a batch is split over threads matrix by matrix
// rather than each matrix over all threads.
constexpr int64_t kSmallMatrixMacs = 1 << 20;

Napi::Value Matmul(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  View a = view_from_js(info[0], "matmul: a");
  View b = view_from_js(info[1], "matmul: b");
  View out = view_from_js(info[2], "matmul: out");
  const float alpha = static_cast<float>(info[3].As<Napi::Number>().DoubleValue());
  const float beta = static_cast<float>(info[4].As<Napi::Number>().DoubleValue());
  require_float(env, a, "a");
  require_float(env, b, "b");
  require_float(env, out, "out");

  const std::string shapes = "a " + shape_string(a) + ", b " + shape_string(b) + ", out " + shape_string(out);
  if (a.ndim < 2 || a.ndim != b.ndim || a.ndim != out.ndim) {
    throw_js_error(env, "matmul: a, b and out must have the same rank (at least 2), got " + shapes);
  }
  const int nd = a.ndim;
  const int64_t M = a.shape[nd - 2], K = a.shape[nd - 1], N = b.shape[nd - 1];
  bool ok = b.shape[nd - 2] == K && out.shape[nd - 2] == M && out.shape[nd - 1] == N;
  for (int d = 0; d < nd - 2; ++d) ok = ok && a.shape[d] == out.shape[d] && b.shape[d] == out.shape[d];
  if (!ok) throw_js_error(env, "matmul: expected a (..., M, K), b (..., K, N), out (..., M, N) with equal batch dims, got " + shapes);
  if (!out.is_contiguous()) throw_js_error(env, "matmul: out must be contiguous, got strides for " + shape_string(out));

  const BatchWalk walk{nd - 2, out.shape};
  int64_t batch = 1;
  for (int d = 0; d < nd - 2; ++d) batch *= out.shape[d];
  if (batch == 0 || M == 0 || N == 0) return env.Undefined();

  // Matrices in other layouts are gathered once; the copies are then walked contiguously.
  MatrixLayout la = layout_of(a), lb = layout_of(b);
  std::vector<float> a_copy, b_copy;
  if (la.gather) {
    a_copy = gather_f32(a, walk, batch);
    la = {false, K, false};
  }
  if (lb.gather) {
    b_copy = gather_f32(b, walk, batch);
    lb = {false, N, false};
  }
  auto operand = [&](const View& v, const MatrixLayout& l, const std::vector<float>& copy, int64_t i, int64_t size) {
    if (!copy.empty()) return GemmOperand{copy.data() + i * size, DType::kF32, l.trans, l.ld};
    return GemmOperand{gemm_detail::offset_ptr(v.data, v.dtype, walk.offset(v, i)), v.dtype, l.trans, l.ld};
  };
  auto run_one = [&](int64_t i, bool threaded) {
    GemmOperand ga = operand(a, la, a_copy, i, M * K);
    GemmOperand gb = operand(b, lb, b_copy, i, K * N);
    void* c = gemm_detail::offset_ptr(out.data, out.dtype, out.offset + i * M * N);
    if (threaded) gemm(M, N, K, alpha, ga, gb, beta, c, out.dtype, N);
    else gemm_serial(M, N, K, alpha, ga, gb, beta, c, out.dtype, N);
  };

  if (batch > 1 && M * N * K < kSmallMatrixMacs) {
    parallel_for(batch, 1, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) run_one(i, false);
    });
  } else {
    for (int64_t i = 0; i < batch; ++i) run_one(i, true);
  }
  return env.Undefined();
}

// out_i = alpha * a @ b_i + beta * out_i for a list of matrices b_i sharing a (2-D views):
// the projections of one input (q, k, v; gate, up) in one call. Skinny products (decoding)
// run as one job of the pool; others one after another.
Napi::Value MatmulGroup(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  View a = view_from_js(info[0], "matmulGroup: a");
  if (!info[1].IsArray() || !info[2].IsArray()) throw_js_error(env, "matmulGroup: bs and outs must be arrays of views");
  Napi::Array bs = info[1].As<Napi::Array>(), outs = info[2].As<Napi::Array>();
  const float alpha = static_cast<float>(info[3].As<Napi::Number>().DoubleValue());
  const float beta = static_cast<float>(info[4].As<Napi::Number>().DoubleValue());
  require_float(env, a, "a");
  if (a.ndim != 2) throw_js_error(env, "matmulGroup: a must be 2-D (M, K), got " + shape_string(a));
  const uint32_t count = bs.Length();
  if (outs.Length() != count) throw_js_error(env, "matmulGroup: bs and outs must have the same length");
  const int64_t M = a.shape[0], K = a.shape[1];
  MatrixLayout la = layout_of(a);
  std::vector<float> a_copy;
  if (la.gather) {
    a_copy = gather_f32(a, BatchWalk{0, a.shape}, 1);
    la = {false, K, false};
  }
  const GemmOperand ga = a_copy.empty() ? GemmOperand{gemm_detail::offset_ptr(a.data, a.dtype, a.offset), a.dtype, la.trans, la.ld}
                                        : GemmOperand{a_copy.data(), DType::kF32, false, K};
  std::vector<View> views(static_cast<size_t>(2 * count));
  std::vector<gemm_detail::SkinnyGroupItem> items(count);
  for (uint32_t i = 0; i < count; ++i) {
    View& b = views[2 * i];
    View& out = views[2 * i + 1];
    b = view_from_js(bs.Get(i), "matmulGroup: b");
    out = view_from_js(outs.Get(i), "matmulGroup: out");
    require_float(env, b, "b");
    require_float(env, out, "out");
    const std::string shapes = "a " + shape_string(a) + ", b " + shape_string(b) + ", out " + shape_string(out);
    if (b.ndim != 2 || out.ndim != 2 || b.shape[0] != K || out.shape[0] != M || out.shape[1] != b.shape[1]) {
      throw_js_error(env, "matmulGroup: expected a (M, K), b (K, N), out (M, N), got " + shapes + " (item " + std::to_string(i) + ")");
    }
    if (!out.is_contiguous()) throw_js_error(env, "matmulGroup: out must be contiguous, got " + shapes);
    const MatrixLayout lb = layout_of(b);
    if (lb.gather) throw_js_error(env, "matmulGroup: b must be row-major or transposed, got strides for " + shapes);
    items[i] = {b.shape[1], GemmOperand{gemm_detail::offset_ptr(b.data, b.dtype, b.offset), b.dtype, lb.trans, lb.ld},
                gemm_detail::offset_ptr(out.data, out.dtype, out.offset), out.dtype, b.shape[1]};
  }
  if (M == 0 || K == 0 || alpha == 0.0f || num_threads() == 1 ||
      !gemm_detail::skinny_gemm_group_parallel(M, K, alpha, ga, items.data(), static_cast<int>(count), beta)) {
    for (const auto& item : items) gemm(M, item.N, K, alpha, ga, item.b, beta, item.c, item.c_dtype, item.ldc);
  }
  return env.Undefined();
}

}  // namespace

void RegisterGemm(Napi::Env env, Napi::Object exports) {
  exports.Set("matmul", Napi::Function::New(env, Matmul));
  exports.Set("matmulGroup", Napi::Function::New(env, MatmulGroup));
  if (RegisterBench) RegisterBench(env, exports);
}

}  // namespace lmflow
