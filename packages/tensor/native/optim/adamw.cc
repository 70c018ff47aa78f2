#include "optim/adamw.h"

#include <cmath>

#include "common/thread-pool.h"
#include "optim/simd.h"

namespace lmflow {
namespace optim {
namespace {

// The per-step constants, computed once in float64 and used in f32.
struct Constants {
  float decay, beta1, one_minus_beta1, beta2, one_minus_beta2, step_size, bias2_sqrt, eps;
};

Constants constants_for(const AdamWHyper& h) {
  Constants c;
  c.decay = static_cast<float>(1.0 - h.lr * h.weight_decay);
  c.beta1 = static_cast<float>(h.beta1);
  c.one_minus_beta1 = static_cast<float>(1.0 - h.beta1);
  c.beta2 = static_cast<float>(h.beta2);
  c.one_minus_beta2 = static_cast<float>(1.0 - h.beta2);
  c.step_size = static_cast<float>(h.lr / (1.0 - std::pow(h.beta1, h.step)));
  c.bias2_sqrt = static_cast<float>(std::sqrt(1.0 - std::pow(h.beta2, h.step)));
  c.eps = static_cast<float>(h.eps);
  return c;
}

struct Operands {
  void* param;
  DType param_dtype;
  const void* grad;
  DType grad_dtype;
  float* m;
  float* v;
  float* master;
};

void adamw_scalar(const Operands& o, const Constants& c, int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) {
    float p = o.master ? o.master[i] : load_one(o.param, o.param_dtype, i);
    float g = load_one(o.grad, o.grad_dtype, i);
    p *= c.decay;
    float m = c.beta1 * o.m[i] + c.one_minus_beta1 * g;
    float v = c.beta2 * o.v[i] + c.one_minus_beta2 * g * g;
    float denom = std::sqrt(v) / c.bias2_sqrt + c.eps;
    p -= c.step_size * m / denom;
    o.m[i] = m;
    o.v[i] = v;
    if (o.master) o.master[i] = p;
    store_one(o.param, o.param_dtype, i, p);
  }
}

#if defined(__x86_64__)
LMFLOW_AVX512 int64_t adamw_avx512(const Operands& o, const Constants& c, int64_t begin, int64_t end) {
  const __m512 decay = _mm512_set1_ps(c.decay), b1 = _mm512_set1_ps(c.beta1), nb1 = _mm512_set1_ps(c.one_minus_beta1);
  const __m512 b2 = _mm512_set1_ps(c.beta2), nb2 = _mm512_set1_ps(c.one_minus_beta2);
  const __m512 step = _mm512_set1_ps(c.step_size), bias2 = _mm512_set1_ps(c.bias2_sqrt), eps = _mm512_set1_ps(c.eps);
  int64_t i = begin;
  for (; i + 16 <= end; i += 16) {
    __m512 p = o.master ? _mm512_loadu_ps(o.master + i) : load16(o.param, o.param_dtype, i);
    __m512 g = load16(o.grad, o.grad_dtype, i);
    p = _mm512_mul_ps(p, decay);
    __m512 m = _mm512_fmadd_ps(nb1, g, _mm512_mul_ps(b1, _mm512_loadu_ps(o.m + i)));
    __m512 v = _mm512_fmadd_ps(_mm512_mul_ps(nb2, g), g, _mm512_mul_ps(b2, _mm512_loadu_ps(o.v + i)));
    __m512 denom = _mm512_add_ps(_mm512_div_ps(_mm512_sqrt_ps(v), bias2), eps);
    p = _mm512_fnmadd_ps(step, _mm512_div_ps(m, denom), p);
    _mm512_storeu_ps(o.m + i, m);
    _mm512_storeu_ps(o.v + i, v);
    if (o.master) _mm512_storeu_ps(o.master + i, p);
    store16(o.param, o.param_dtype, i, p);
  }
  return i;
}

LMFLOW_AVX2 int64_t adamw_avx2(const Operands& o, const Constants& c, int64_t begin, int64_t end) {
  const __m256 decay = _mm256_set1_ps(c.decay), b1 = _mm256_set1_ps(c.beta1), nb1 = _mm256_set1_ps(c.one_minus_beta1);
  const __m256 b2 = _mm256_set1_ps(c.beta2), nb2 = _mm256_set1_ps(c.one_minus_beta2);
  const __m256 step = _mm256_set1_ps(c.step_size), bias2 = _mm256_set1_ps(c.bias2_sqrt), eps = _mm256_set1_ps(c.eps);
  int64_t i = begin;
  for (; i + 8 <= end; i += 8) {
    __m256 p = o.master ? _mm256_loadu_ps(o.master + i) : load8(o.param, o.param_dtype, i);
    __m256 g = load8(o.grad, o.grad_dtype, i);
    p = _mm256_mul_ps(p, decay);
    __m256 m = _mm256_fmadd_ps(nb1, g, _mm256_mul_ps(b1, _mm256_loadu_ps(o.m + i)));
    __m256 v = _mm256_fmadd_ps(_mm256_mul_ps(nb2, g), g, _mm256_mul_ps(b2, _mm256_loadu_ps(o.v + i)));
    __m256 denom = _mm256_add_ps(_mm256_div_ps(_mm256_sqrt_ps(v), bias2), eps);
    p = _mm256_fnmadd_ps(step, _mm256_div_ps(m, denom), p);
    _mm256_storeu_ps(o.m + i, m);
    _mm256_storeu_ps(o.v + i, v);
    if (o.master) _mm256_storeu_ps(o.master + i, p);
    store8(o.param, o.param_dtype, i, p);
  }
  return i;
}
#endif

}  // namespace

void adamw(void* param, DType param_dtype, const void* grad, DType grad_dtype, float* m, float* v,
           float* master, int64_t n, const AdamWHyper& hyper) {
  const Constants c = constants_for(hyper);
  const Operands o{param, param_dtype, grad, grad_dtype, m, v, master};
  const SimdLevel level = simd_level();
  (void)level;  // only the x86 paths read it
  // Memory bound: a chunk per thread of at least 16K elements keeps the pool worth waking.
  parallel_for(n, 1 << 14, [&](int64_t begin, int64_t end) {
    int64_t i = begin;
#if defined(__x86_64__)
    if (level == SimdLevel::kAvx512) i = adamw_avx512(o, c, begin, end);
    else if (level == SimdLevel::kAvx2) i = adamw_avx2(o, c, begin, end);
#endif
    adamw_scalar(o, c, i, end);
  });
}

}  // namespace optim
}  // namespace lmflow
