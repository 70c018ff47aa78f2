// AVX-512 primitives for the nn kernels: 16 floats per vector.
//
// Included inside namespace lmflow::nn::avx512 by kernels-avx512.cc, after <immintrin.h>,
// with NN_TARGET naming the target features; kernels-body.h is written against these names
// (vf, W, vload, vexp, ...) and compiled once per instruction set.
#define NN_INLINE static inline __attribute__((always_inline)) NN_TARGET

using vf = __m512;
constexpr int W = 16;

NN_INLINE vf vzero() { return _mm512_setzero_ps(); }
NN_INLINE vf vset1(float a) { return _mm512_set1_ps(a); }
NN_INLINE vf vload(const float* p) { return _mm512_loadu_ps(p); }
NN_INLINE void vstore(float* p, vf v) { _mm512_storeu_ps(p, v); }
NN_INLINE __mmask16 vmask(int n) { return static_cast<__mmask16>((1u << n) - 1u); }
// The first n (< W) lanes from p, the others `fill`.
NN_INLINE vf vload_part(const float* p, int n, float fill) {
  return _mm512_mask_loadu_ps(_mm512_set1_ps(fill), vmask(n), p);
}
NN_INLINE void vstore_part(float* p, vf v, int n) { _mm512_mask_storeu_ps(p, vmask(n), v); }

NN_INLINE vf vadd(vf a, vf b) { return _mm512_add_ps(a, b); }
NN_INLINE vf vsub(vf a, vf b) { return _mm512_sub_ps(a, b); }
NN_INLINE vf vmul(vf a, vf b) { return _mm512_mul_ps(a, b); }
// a * b + c with one rounding.
NN_INLINE vf vfma(vf a, vf b, vf c) { return _mm512_fmadd_ps(a, b, c); }
NN_INLINE vf vmax(vf a, vf b) { return _mm512_max_ps(a, b); }
NN_INLINE float vhsum(vf v) { return _mm512_reduce_add_ps(v); }
NN_INLINE float vhmax(vf v) { return _mm512_reduce_max_ps(v); }

// exp(x) in f32 (Cephes expf: range reduction by ln 2 in two parts, degree-6 polynomial),
// within about 1 ulp on [-87, 88]; subnormal results down to x = -103.9, then 0 (also for
// -inf), inf above 88.72, NaN stays NaN. 2^n is built as two factors so that n may reach
// 128 or -149 without overflowing the exponent field.
NN_INLINE vf vexp(vf x) {
  const vf hi = _mm512_set1_ps(88.72283935546875f);
  const vf lo = _mm512_set1_ps(-103.97207708f);
  vf xc = _mm512_min_ps(_mm512_max_ps(x, lo), hi);
  vf n = _mm512_roundscale_ps(_mm512_mul_ps(xc, _mm512_set1_ps(1.44269504088896341f)),
                              _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  vf r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), xc);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  vf p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  vf y = _mm512_fmadd_ps(_mm512_mul_ps(p, r), r, _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  __m512i ni = _mm512_cvtps_epi32(n);
  __m512i n1 = _mm512_srai_epi32(ni, 1);
  __m512i n2 = _mm512_sub_epi32(ni, n1);
  const __m512i bias = _mm512_set1_epi32(127);
  vf e1 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(n1, bias), 23));
  vf e2 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(n2, bias), 23));
  y = _mm512_mul_ps(_mm512_mul_ps(y, e1), e2);
  y = _mm512_mask_mov_ps(y, _mm512_cmp_ps_mask(x, lo, _CMP_LT_OQ), _mm512_setzero_ps());
  y = _mm512_mask_mov_ps(y, _mm512_cmp_ps_mask(x, hi, _CMP_GT_OQ), _mm512_set1_ps(__builtin_inff()));
  return _mm512_mask_mov_ps(y, _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q), x);
}

// Swaps lanes 2i and 2i+1 (interleaved rotary pairs).
NN_INLINE vf vswap_pairs(vf v) { return _mm512_permute_ps(v, 0xB1); }

// bf16 <-> f32, rounding to nearest even like f32_to_bf16 (NaN kept quiet).
NN_INLINE vf vload_bf16(const uint16_t* p) {
  __m512i w = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  return _mm512_castsi512_ps(_mm512_slli_epi32(w, 16));
}
NN_INLINE __m512i bf16_bits(vf v) {
  __m512i bits = _mm512_castps_si512(v);
  __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(bits, 16), _mm512_set1_epi32(1));
  __m512i rounded = _mm512_srli_epi32(_mm512_add_epi32(bits, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff))), 16);
  __m512i nan = _mm512_or_si512(_mm512_srli_epi32(bits, 16), _mm512_set1_epi32(0x40));
  return _mm512_mask_mov_epi32(rounded, _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q), nan);
}
NN_INLINE void vstore_bf16(uint16_t* p, vf v) {
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), _mm512_cvtepi32_epi16(bf16_bits(v)));
}
// v rounded to bf16 precision, kept in f32.
NN_INLINE vf vround_bf16(vf v) { return _mm512_castsi512_ps(_mm512_slli_epi32(bf16_bits(v), 16)); }

NN_INLINE vf vload_f16(const uint16_t* p) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}
NN_INLINE void vstore_f16(uint16_t* p, vf v) {
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}
NN_INLINE vf vround_f16(vf v) { return _mm512_cvtph_ps(_mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)); }
