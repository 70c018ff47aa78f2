// NF4 -> f32: a table lookup per 4-bit code times the block's absmax. The vector paths keep the
// 16-entry codebook in registers (one zmm, or two ymm) and permute it by the codes.
#include <algorithm>
#include <vector>

#include "common/thread-pool.h"
#include "optim/nf4-format.h"
#include "optim/simd.h"

namespace lmflow {
namespace optim {
namespace {

void dequantize_scalar(const Nf4Parts& w, int64_t e, int64_t end, float* dst) {
  while (e < end) {
    const int64_t block = e / kNf4Block;
    const float absmax = nf4_absmax(w, block);
    const int64_t stop = std::min(end, (block + 1) * kNf4Block);
    for (; e < stop; ++e) {
      const uint8_t byte = w.codes[e >> 1];
      *dst++ = kNf4Codebook[(e & 1) ? (byte & 15) : (byte >> 4)] * absmax;
    }
  }
}

#if defined(__x86_64__)
// 32 elements per step from a 32-aligned e (so within one block of 64): 16 code bytes.
LMFLOW_AVX512 void dequantize_avx512(const Nf4Parts& w, int64_t e, int64_t end, float* dst) {
  const int64_t head = std::min(end, (e + 31) / 32 * 32);
  dequantize_scalar(w, e, head, dst);
  dst += head - e;
  e = head;
  const __m512 table = _mm512_loadu_ps(kNf4Codebook);
  // Interleave high-nibble values (indices 0..15) with low-nibble values (16..31).
  const __m512i first = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
  const __m512i second = _mm512_set_epi32(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8);
  const __m512i low_mask = _mm512_set1_epi32(15);
  for (; e + 32 <= end; e += 32, dst += 32) {
    const __m512 absmax = _mm512_set1_ps(nf4_absmax(w, e / kNf4Block));
    const __m512i bytes = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w.codes + (e >> 1))));
    const __m512 high = _mm512_permutexvar_ps(_mm512_srli_epi32(bytes, 4), table);
    const __m512 low = _mm512_permutexvar_ps(_mm512_and_si512(bytes, low_mask), table);
    _mm512_storeu_ps(dst, _mm512_mul_ps(_mm512_permutex2var_ps(high, first, low), absmax));
    _mm512_storeu_ps(dst + 16, _mm512_mul_ps(_mm512_permutex2var_ps(high, second, low), absmax));
  }
  dequantize_scalar(w, e, end, dst);
}

// Entries 0..7 from one register, 8..15 from the other, chosen by bit 3 of the code.
LMFLOW_AVX2 inline __m256 lookup8(__m256 table_low, __m256 table_high, __m256i codes) {
  const __m256 low = _mm256_permutevar8x32_ps(table_low, codes);
  const __m256 high = _mm256_permutevar8x32_ps(table_high, codes);
  return _mm256_blendv_ps(low, high, _mm256_castsi256_ps(_mm256_slli_epi32(codes, 28)));
}

// 16 elements per step from a 16-aligned e: 8 code bytes.
LMFLOW_AVX2 void dequantize_avx2(const Nf4Parts& w, int64_t e, int64_t end, float* dst) {
  const int64_t head = std::min(end, (e + 15) / 16 * 16);
  dequantize_scalar(w, e, head, dst);
  dst += head - e;
  e = head;
  const __m256 table_low = _mm256_loadu_ps(kNf4Codebook);
  const __m256 table_high = _mm256_loadu_ps(kNf4Codebook + 8);
  const __m256i low_mask = _mm256_set1_epi32(15);
  for (; e + 16 <= end; e += 16, dst += 16) {
    const __m256 absmax = _mm256_set1_ps(nf4_absmax(w, e / kNf4Block));
    const __m256i bytes = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(w.codes + (e >> 1))));
    const __m256 high = lookup8(table_low, table_high, _mm256_srli_epi32(bytes, 4));
    const __m256 low = lookup8(table_low, table_high, _mm256_and_si256(bytes, low_mask));
    // unpack interleaves within 128-bit halves: [h0 l0 h1 l1 | h4 l4 h5 l5], [h2 l2 h3 l3 | h6 l6 h7 l7].
    const __m256 a = _mm256_unpacklo_ps(high, low);
    const __m256 b = _mm256_unpackhi_ps(high, low);
    _mm256_storeu_ps(dst, _mm256_mul_ps(_mm256_permute2f128_ps(a, b, 0x20), absmax));
    _mm256_storeu_ps(dst + 8, _mm256_mul_ps(_mm256_permute2f128_ps(a, b, 0x31), absmax));
  }
  dequantize_scalar(w, e, end, dst);
}
#endif

}  // namespace

void nf4_dequantize_range(const Nf4Parts& w, int64_t e0, int64_t count, float* dst) {
#if defined(__x86_64__)
  if (simd_level() == SimdLevel::kAvx512) return dequantize_avx512(w, e0, e0 + count, dst);
  if (simd_level() == SimdLevel::kAvx2) return dequantize_avx2(w, e0, e0 + count, dst);
#endif
  dequantize_scalar(w, e0, e0 + count, dst);
}

void nf4_dequantize(const Nf4Parts& w, int64_t length, void* out, DType out_dtype) {
  constexpr int64_t kChunk = 4096;  // elements converted through a stack-sized f32 buffer
  parallel_for(length / kNf4Block, 256, [&](int64_t begin, int64_t end) {
    const int64_t e_end = end * kNf4Block;
    if (out_dtype == DType::kF32) {
      nf4_dequantize_range(w, begin * kNf4Block, e_end - begin * kNf4Block, static_cast<float*>(out) + begin * kNf4Block);
      return;
    }
    std::vector<float> buffer(kChunk);
    for (int64_t e = begin * kNf4Block; e < e_end; e += kChunk) {
      const int64_t n = std::min(kChunk, e_end - e);
      nf4_dequantize_range(w, e, n, buffer.data());
      store_f32(buffer.data(), out, out_dtype, e, n);
    }
  });
}

}  // namespace optim
}  // namespace lmflow
