// f32 transcendental functions written as branch-free polynomials (Cephes' single-precision
// approximations, about 1-2 ulp), so that loops calling them vectorize; libm's expf and logf
// are calls GCC cannot vectorize without -ffast-math. Double versions forward to libm, which
// is what f64 tensors (gradient checks) want: accuracy over speed.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>

#include "convert.h"

namespace lmflow {
namespace ew {

constexpr float kInfF = std::numeric_limits<float>::infinity();
constexpr float kNanF = std::numeric_limits<float>::quiet_NaN();

// exp(x) = 2^n * exp(r), n = round(x / ln 2), |r| <= ln(2)/2, exp(r) by a degree-7 polynomial.
LMFLOW_INLINE float exp_approx(float x) {
  float xc = x < -87.0f ? -87.0f : x;
  xc = xc > 88.72283935546875f ? 88.72283935546875f : xc;
  // Adding and subtracting 1.5 * 2^23 rounds to the nearest integer (|value| < 2^22).
  float n = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  float r = xc - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  float y = p * (r * r) + r + 1.0f;
  // 2^n as 2^h * 2^(n-h), h = n/2: both factors stay normal for every n in [-126, 128].
  int32_t ni = static_cast<int32_t>(n);
  int32_t h = ni >> 1;
  float scale1 = bit_cast<float>(static_cast<uint32_t>(h + 127) << 23);
  float scale2 = bit_cast<float>(static_cast<uint32_t>(ni - h + 127) << 23);
  float result = y * scale1 * scale2;
  result = x > 88.72283935546875f ? kInfF : result;
  result = x < -87.0f ? 0.0f : result;  // below ~1e-38 (subnormal): flushed to 0
  return x != x ? x : result;
}

// log(x) = e * ln 2 + log(m), m in [sqrt(0.5), sqrt(2)), log(1 + f) by a polynomial.
LMFLOW_INLINE float log_approx(float x) {
  bool subnormal = x < 1.17549435e-38f;
  float xs = subnormal ? x * 8388608.0f : x;
  uint32_t bits = bit_cast<uint32_t>(xs);
  int32_t e = static_cast<int32_t>((bits >> 23) & 0xffu) - 126;
  e = subnormal ? e - 23 : e;
  float m = bit_cast<float>((bits & 0x007fffffu) | 0x3f000000u);  // in [0.5, 1)
  bool low = m < 0.707106781186547524f;
  float ef = static_cast<float>(low ? e - 1 : e);
  m = low ? m + m - 1.0f : m - 1.0f;
  float z = m * m;
  float p = 7.0376836292e-2f;
  p = p * m - 1.1514610310e-1f;
  p = p * m + 1.1676998740e-1f;
  p = p * m - 1.2420140846e-1f;
  p = p * m + 1.4249322787e-1f;
  p = p * m - 1.6668057665e-1f;
  p = p * m + 2.0000714765e-1f;
  p = p * m - 2.4999993993e-1f;
  p = p * m + 3.3333331174e-1f;
  float y = p * m * z;
  y += ef * -2.12194440e-4f;
  y += z * -0.5f;
  float result = m + y;
  result += ef * 0.693359375f;
  result = x == 0.0f ? -kInfF : result;
  result = x < 0.0f ? kNanF : result;
  result = x == kInfF ? kInfF : result;
  return x != x ? x : result;
}

LMFLOW_INLINE float copy_sign(float magnitude, float sign) {
  return bit_cast<float>((bit_cast<uint32_t>(magnitude) & 0x7fffffffu) | (bit_cast<uint32_t>(sign) & 0x80000000u));
}

// Small |x|: odd polynomial (1 - 2/(e^2x + 1) would cancel); otherwise through exp.
LMFLOW_INLINE float tanh_approx(float x) {
  float a = bit_cast<float>(bit_cast<uint32_t>(x) & 0x7fffffffu);
  float z = x * x;
  float p = -5.70498872745e-3f;
  p = p * z + 2.06390887954e-2f;
  p = p * z - 5.37397155531e-2f;
  p = p * z + 1.33314422036e-1f;
  p = p * z - 3.33332819422e-1f;
  float small = p * z * x + x;
  float large = copy_sign(1.0f - 2.0f / (exp_approx(a + a) + 1.0f), x);
  return a < 0.625f ? small : large;
}

LMFLOW_INLINE float sigmoid_approx(float x) { return 1.0f / (1.0f + exp_approx(-x)); }

// erfc(z) for z >= 0 with relative error below 1.2e-7 (the Chebyshev fit of Numerical
// Recipes' erfcc), which keeps gelu's relative accuracy in the far negative tail.
LMFLOW_INLINE float erfc_nonneg(float z) {
  float t = 1.0f / (1.0f + 0.5f * z);
  float p = 0.17087277f;
  p = p * t - 0.82215223f;
  p = p * t + 1.48851587f;
  p = p * t - 1.13520398f;
  p = p * t + 0.27886807f;
  p = p * t - 0.18628806f;
  p = p * t + 0.09678418f;
  p = p * t + 0.37409196f;
  p = p * t + 1.00002368f;
  return t * exp_approx(p * t - z * z - 1.26551223f);
}

// The standard normal CDF, Phi(x) = (1 + erf(x / sqrt 2)) / 2.
LMFLOW_INLINE float normal_cdf(float x) {
  float a = bit_cast<float>(bit_cast<uint32_t>(x) & 0x7fffffffu);
  float half_erfc = 0.5f * erfc_nonneg(a * 0.70710678118654752f);
  return x >= 0.0f ? 1.0f - half_erfc : (x != x ? x : half_erfc);
}

// Double precision: libm.
inline double normal_cdf(double x) { return 0.5 * std::erfc(-x * 0.70710678118654752440); }

// The same names for both compute types, so kernels are written once.
LMFLOW_INLINE float exp_c(float x) { return exp_approx(x); }
LMFLOW_INLINE float log_c(float x) { return log_approx(x); }
LMFLOW_INLINE float tanh_c(float x) { return tanh_approx(x); }
LMFLOW_INLINE float sigmoid_c(float x) { return sigmoid_approx(x); }
LMFLOW_INLINE float sin_c(float x) { return std::sin(x); }
LMFLOW_INLINE float cos_c(float x) { return std::cos(x); }
LMFLOW_INLINE float sqrt_c(float x) { return std::sqrt(x); }
inline double exp_c(double x) { return std::exp(x); }
inline double log_c(double x) { return std::log(x); }
inline double tanh_c(double x) { return std::tanh(x); }
inline double sigmoid_c(double x) { return 1.0 / (1.0 + std::exp(-x)); }
inline double sin_c(double x) { return std::sin(x); }
inline double cos_c(double x) { return std::cos(x); }
inline double sqrt_c(double x) { return std::sqrt(x); }

}  // namespace ew
}  // namespace lmflow
