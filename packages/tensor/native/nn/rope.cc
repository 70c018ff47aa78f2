// Rotary position embedding over x (B, T, H, D): for each token the D/2 angles
// positions[b, t] * invFreq[i] (in f32, as Hugging Face computes them) give one cos/sin
// table, applied to every head of that token.
#include <napi.h>

#include <cmath>
#include <vector>

#include "common/thread-pool.h"
#include "nn/binding-util.h"
#include "nn/bindings.h"

namespace lmflow {
namespace nn {

Napi::Value Rope(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "rope";
  View x = view_from_js(info[0], "rope: x");
  View pos = view_from_js(info[1], "rope: positions");
  View inv = view_from_js(info[2], "rope: invFreq");
  View out = view_from_js(info[3], "rope: out");
  const bool interleaved = info[4].ToBoolean().Value();
  const bool inverse = info[5].ToBoolean().Value();
  const float scale = info[6].As<Napi::Number>().FloatValue();
  require_float(env, x, op, "x");
  require_float(env, out, op, "out");
  require_rank(env, x, 4, op, "x (B, T, H, D)");
  require_same_shape(env, x, out, op, "x", "out");
  require_dense_rows(env, x, op, "x");
  require_dense_rows(env, out, op, "out");
  const int64_t B = x.shape[0], T = x.shape[1], H = x.shape[2], D = x.shape[3];
  if (D % 2 != 0) throw_js_error(env, "rope: the head size D must be even, got x " + shape_string(x));
  require_dtype(env, pos, DType::kI32, op, "positions");
  require_shape(env, pos, {B, T}, op, "positions", "(B, T)");
  require_dtype(env, inv, DType::kF32, op, "invFreq");
  require_shape(env, inv, {D / 2}, op, "invFreq", "(D / 2)");
  if (x.numel() == 0) return env.Undefined();
  const NnKernels& k = nn_kernels();
  const std::vector<float> freq = dense_f32(k, inv);
  const int64_t half = D / 2;
  const int32_t* pdata = reinterpret_cast<const int32_t*>(element_ptr(pos, 0));
  const int64_t xsize = dtype_size(x.dtype), osize = dtype_size(out.dtype);
  parallel_for(B * T, row_grain(H * D), [&](int64_t i0, int64_t i1) {
    float* cs = scratch(0, D);
    float* sn = scratch(1, D);
    float* bx = scratch(2, D);
    float* by = scratch(3, D);
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t b = i / T, t = i % T;
      const float p = static_cast<float>(pdata[b * pos.strides[0] + t * pos.strides[1]]);
      for (int64_t j = 0; j < half; ++j) {
        const float angle = p * freq[j];
        const float c = std::cos(angle) * scale;
        const float s = (inverse ? -std::sin(angle) : std::sin(angle)) * scale;
        // Tables in the layout rope_row expects: y = x * cos + rotate(x) * sin.
        if (interleaved) {
          cs[2 * j] = cs[2 * j + 1] = c;
          sn[2 * j] = -s;
          sn[2 * j + 1] = s;
        } else {
          cs[j] = cs[half + j] = c;
          sn[j] = -s;
          sn[half + j] = s;
        }
      }
      for (int64_t h = 0; h < H; ++h) {
        const int64_t xo = b * x.strides[0] + t * x.strides[1] + h * x.strides[2];
        const int64_t oo = b * out.strides[0] + t * out.strides[1] + h * out.strides[2];
        const char* src = static_cast<const char*>(x.data) + (x.offset + xo) * xsize;
        char* dst = static_cast<char*>(out.data) + (out.offset + oo) * osize;
        const float* xr = reinterpret_cast<const float*>(src);
        if (x.dtype != DType::kF32) {
          k.to_f32(src, x.dtype, bx, D);
          xr = bx;
        }
        float* yr = out.dtype == DType::kF32 ? reinterpret_cast<float*>(dst) : by;
        k.rope_row(xr, yr, cs, sn, D, interleaved);
        if (out.dtype != DType::kF32) k.from_f32(yr, dst, out.dtype, D);
      }
    }
  });
  return env.Undefined();
}

}  // namespace nn
}  // namespace lmflow
