// NF4 weights with double-quantized absmax (the layout of Nf4Weight in src/backend.ts):
// codes u8 (L/2), element 2i in the high nibble of byte i; absmax of each block of 64 elements
// = offset + scales[b / 256] * (absmax_codes[b] - 127) / 127.
#pragma once

#include <cstdint>

#include "common/dtype.h"

namespace lmflow {
namespace optim {

constexpr int64_t kNf4Block = 64;
constexpr int64_t kNf4AbsmaxGroup = 256;

// The same float32 table as src/quant/nf4-codebook.ts (QLoRA appendix E / bitsandbytes).
constexpr float kNf4Codebook[16] = {
    -1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f, -0.28444138169288635f,
    -0.18477343022823334f, -0.09105003625154495f, 0.0f, 0.07958029955625534f, 0.16093020141124725f,
    0.24611230194568634f, 0.33791524171829224f, 0.44070982933044434f, 0.5626170039176941f,
    0.7229568362236023f, 1.0f};
constexpr int kNf4ZeroCode = 7;

struct Nf4Parts {
  const uint8_t* codes;
  const uint8_t* absmax_codes;
  const float* scales;
  float offset;
};

// The dequantized absmax of block b: computed in float64 and rounded once, because offset and
// the scaled code may nearly cancel (a small absmax in a group around a larger mean).
inline float nf4_absmax(const Nf4Parts& w, int64_t b) {
  const double code = static_cast<double>(static_cast<int>(w.absmax_codes[b]) - 127);
  return static_cast<float>(w.offset + (static_cast<double>(w.scales[b / kNf4AbsmaxGroup]) * code) / 127);
}

// dst[0, count) = the weight's elements [e0, e0 + count) in f32, any e0 (not only block starts).
void nf4_dequantize_range(const Nf4Parts& w, int64_t e0, int64_t count, float* dst);

// out (length elements of f32/bf16/f16) = the whole weight; threaded.
void nf4_dequantize(const Nf4Parts& w, int64_t length, void* out, DType out_dtype);

// Quantizes x (L elements of f32/bf16/f16, L a multiple of 64) into codes, absmax_codes and
// scales; returns the offset (f32). Bit-identical to the reference backend (see nf4-quantize.cc).
float nf4_quantize(const void* x, DType dtype, int64_t length, uint8_t* codes, uint8_t* absmax_codes, float* scales);

// out = alpha * x @ op(W) + beta * out; W (N, K). transpose_w: x (M, K), out (M, N), else
// x (M, N), out (M, K). x and out contiguous, dtypes f32/bf16/f16; beta == 0 ignores out.
void nf4_matmul(int64_t M, int64_t N, int64_t K, const void* x, DType x_dtype, const Nf4Parts& w, void* out,
                DType out_dtype, float alpha, float beta, bool transpose_w);

}  // namespace optim
}  // namespace lmflow
