// JS entry points of the optim area: fused AdamW and NF4 (quantize, dequantize, matmul).
// The TypeScript wrappers (src/backends/cpu/optim.ts, quant.ts) pass view descriptors; these
// functions check what the kernels rely on (dtypes, contiguity, lengths) and name the problem.
#include <napi.h>

#include <string>

#include "common/napi-view.h"
#include "optim/adamw.h"
#include "optim/nf4-format.h"

namespace lmflow {
namespace {

std::string describe(const View& v) {
  std::string s = std::string(dtype_name(v.dtype)) + " [";
  for (int i = 0; i < v.ndim; ++i) s += (i ? ", " : "") + std::to_string(v.shape[i]);
  return s + "]";
}

int64_t rows_of(const View& v) {
  int64_t rows = 1;
  for (int i = 0; i + 1 < v.ndim; ++i) rows *= v.shape[i];
  return rows;
}

bool is_float(DType d) { return d == DType::kF32 || d == DType::kBF16 || d == DType::kF16; }

void require_float(Napi::Env env, const char* op, const char* role, const View& v) {
  if (is_float(v.dtype)) return;
  std::string why = v.dtype == DType::kF64 ? " (f64 is for the reference backend; the cpu backend computes in f32)" : "";
  throw_js_error(env, std::string(op) + ": " + role + " must be f32, bf16 or f16, got " + describe(v) + why);
}

void require_dtype(Napi::Env env, const char* op, const char* role, const View& v, DType want) {
  if (v.dtype != want) throw_js_error(env, std::string(op) + ": " + role + " must be " + dtype_name(want) + ", got " + describe(v));
}

void require_contiguous(Napi::Env env, const char* op, const char* role, const View& v) {
  if (!v.is_contiguous()) throw_js_error(env, std::string(op) + ": " + role + " must be contiguous, got a strided " + describe(v));
}

void require_length(Napi::Env env, const char* op, const char* role, const View& v, int64_t want) {
  if (v.numel() != want) {
    throw_js_error(env, std::string(op) + ": " + role + " must have " + std::to_string(want) + " elements, got " + describe(v));
  }
}

// adamw(param, grad, m, v, master | null, lr, beta1, beta2, eps, weightDecay, step)
Napi::Value AdamW(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "adamw";
  View param = view_from_js(info[0], "adamw: param");
  View grad = view_from_js(info[1], "adamw: grad");
  View m = view_from_js(info[2], "adamw: m");
  View v = view_from_js(info[3], "adamw: v");
  View master = optional_view_from_js(info[4], "adamw: master");
  const int64_t n = param.numel();
  require_float(env, op, "param", param);
  require_float(env, op, "grad", grad);
  require_dtype(env, op, "m", m, DType::kF32);
  require_dtype(env, op, "v", v, DType::kF32);
  for (const auto& [role, view] : {std::pair<const char*, const View*>{"param", &param}, {"grad", &grad}, {"m", &m}, {"v", &v}}) {
    require_contiguous(env, op, role, *view);
    require_length(env, op, role, *view, n);
  }
  if (master.data) {
    require_dtype(env, op, "master", master, DType::kF32);
    require_contiguous(env, op, "master", master);
    require_length(env, op, "master", master, n);
  }
  optim::AdamWHyper hyper;
  hyper.lr = info[5].As<Napi::Number>().DoubleValue();
  hyper.beta1 = info[6].As<Napi::Number>().DoubleValue();
  hyper.beta2 = info[7].As<Napi::Number>().DoubleValue();
  hyper.eps = info[8].As<Napi::Number>().DoubleValue();
  hyper.weight_decay = info[9].As<Napi::Number>().DoubleValue();
  hyper.step = info[10].As<Napi::Number>().DoubleValue();
  optim::adamw(param.byte_ptr(), param.dtype, grad.byte_ptr(), grad.dtype, m.ptr<float>(), v.ptr<float>(),
               master.data ? master.ptr<float>() : nullptr, n, hyper);
  return env.Undefined();
}

struct PartViews {
  View codes, absmax_codes, scales;
};

// The three array parts of an Nf4Weight (info[at .. at + 2]: codes, absmaxCodes, absmaxScales)
// for a weight of `length` elements, checked against the layout; `owner` names them in errors
// ("weight" or "into").
PartViews part_views(const Napi::CallbackInfo& info, int at, const std::string& op, const std::string& owner, int64_t length) {
  Napi::Env env = info.Env();
  const std::string codes_name = owner + ".codes", absmax_name = owner + ".absmaxCodes", scales_name = owner + ".absmaxScales";
  PartViews p{view_from_js(info[at], (op + ": " + codes_name).c_str()),
              view_from_js(info[at + 1], (op + ": " + absmax_name).c_str()),
              view_from_js(info[at + 2], (op + ": " + scales_name).c_str())};
  if (length % optim::kNf4Block != 0) {
    throw_js_error(env, op + ": an NF4 weight has a multiple of 64 elements, got " + std::to_string(length));
  }
  const int64_t blocks = length / optim::kNf4Block;
  const struct {
    const View& view;
    const std::string& name;
    DType dtype;
    int64_t length;
  } expected[] = {{p.codes, codes_name, DType::kU8, length / 2},
                  {p.absmax_codes, absmax_name, DType::kU8, blocks},
                  {p.scales, scales_name, DType::kF32, (blocks + optim::kNf4AbsmaxGroup - 1) / optim::kNf4AbsmaxGroup}};
  for (const auto& e : expected) {
    require_dtype(env, op.c_str(), e.name.c_str(), e.view, e.dtype);
    require_contiguous(env, op.c_str(), e.name.c_str(), e.view);
    require_length(env, op.c_str(), e.name.c_str(), e.view, e.length);
  }
  return p;
}

// An Nf4Weight passed as info[at .. at + 3]: the three parts and absmaxOffset.
optim::Nf4Parts parts_from_js(const Napi::CallbackInfo& info, int at, const char* op, int64_t length) {
  const PartViews p = part_views(info, at, op, "weight", length);
  return optim::Nf4Parts{p.codes.ptr<uint8_t>(), p.absmax_codes.ptr<uint8_t>(), p.scales.ptr<float>(),
                         info[at + 3].As<Napi::Number>().FloatValue()};
}

// nf4Quantize(w, codes, absmaxCodes, absmaxScales) -> absmaxOffset
Napi::Value Nf4Quantize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  View w = view_from_js(info[0], "nf4Quantize: w");
  require_float(env, "nf4Quantize", "w", w);
  require_contiguous(env, "nf4Quantize", "w", w);
  const int64_t length = w.numel();
  if (length % optim::kNf4Block != 0) {
    throw_js_error(env, "nf4Quantize: w must have a multiple of 64 elements, got " + describe(w));
  }
  const PartViews into = part_views(info, 1, "nf4Quantize", "into", length);
  const float offset = optim::nf4_quantize(w.byte_ptr(), w.dtype, length, into.codes.ptr<uint8_t>(),
                                           into.absmax_codes.ptr<uint8_t>(), into.scales.ptr<float>());
  return Napi::Number::New(env, offset);
}

// nf4Dequantize(codes, absmaxCodes, absmaxScales, absmaxOffset, out)
Napi::Value Nf4Dequantize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  View out = view_from_js(info[4], "nf4Dequantize: out");
  require_float(env, "nf4Dequantize", "out", out);
  require_contiguous(env, "nf4Dequantize", "out", out);
  const int64_t length = out.numel();
  const optim::Nf4Parts w = parts_from_js(info, 0, "nf4Dequantize", length);
  optim::nf4_dequantize(w, length, out.byte_ptr(), out.dtype);
  return env.Undefined();
}

// nf4Matmul(x, codes, absmaxCodes, absmaxScales, absmaxOffset, out, alpha, beta, transposeW)
Napi::Value Nf4Matmul(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "nf4Matmul";
  View x = view_from_js(info[0], "nf4Matmul: x");
  View out = view_from_js(info[5], "nf4Matmul: out");
  const float alpha = info[6].As<Napi::Number>().FloatValue();
  const float beta = info[7].As<Napi::Number>().FloatValue();
  const bool transpose_w = info[8].As<Napi::Boolean>().Value();
  require_float(env, op, "x", x);
  require_float(env, op, "out", out);
  require_contiguous(env, op, "x", x);
  require_contiguous(env, op, "out", out);
  if (x.ndim < 1 || out.ndim < 1) throw_js_error(env, "nf4Matmul: x and out must have at least one dimension");
  // Matrices: the last dimension, and the product of the others.
  const int64_t M = rows_of(x);
  if (rows_of(out) != M) {
    throw_js_error(env, "nf4Matmul: x " + describe(x) + " and out " + describe(out) + " must have the same number of rows");
  }
  const int64_t inner = x.shape[x.ndim - 1];
  const int64_t cols = out.shape[out.ndim - 1];
  const int64_t N = transpose_w ? cols : inner;
  const int64_t K = transpose_w ? inner : cols;
  const optim::Nf4Parts w = parts_from_js(info, 1, op, N * K);
  optim::nf4_matmul(M, N, K, x.byte_ptr(), x.dtype, w, out.byte_ptr(), out.dtype, alpha, beta, transpose_w);
  return env.Undefined();
}

}  // namespace

void RegisterOptim(Napi::Env env, Napi::Object exports) {
  exports.Set("adamw", Napi::Function::New(env, AdamW));
  exports.Set("nf4Quantize", Napi::Function::New(env, Nf4Quantize));
  exports.Set("nf4Dequantize", Napi::Function::New(env, Nf4Dequantize));
  exports.Set("nf4Matmul", Napi::Function::New(env, Nf4Matmul));
}

}  // namespace lmflow
