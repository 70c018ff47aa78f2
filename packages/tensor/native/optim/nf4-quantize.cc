// f32/bf16/f16 -> NF4 with double-quantized absmax.
//
// Bit-identical to the reference backend (src/backends/reference/quant.ts and src/quant/):
// codes compare x / absmax, divided in float64, with the float64 midpoints of the codebook
// (a value on a midpoint takes the lower code); the absmax mean is a sequential float64 sum;
// the 8-bit absmax codes round (d * 127) / scale with floor(t + 0.5). Every step is a single
// IEEE operation in the same order on both sides, and no multiply feeds an add, so FMA
// contraction cannot change a result.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "common/thread-pool.h"
#include "optim/nf4-format.h"
#include "optim/simd.h"

namespace lmflow {
namespace optim {
namespace {

struct Midpoints {
  double values[15];
  Midpoints() {
    for (int i = 0; i < 15; ++i) values[i] = (static_cast<double>(kNf4Codebook[i]) + static_cast<double>(kNf4Codebook[i + 1])) / 2;
  }
};
const Midpoints kMidpoints;

// codes[i] for the 64 values of one block with absmax a > 0.
void codes_scalar(const float* x, float a, uint8_t* codes) {
  for (int i = 0; i < kNf4Block; ++i) {
    const double n = static_cast<double>(x[i]) / static_cast<double>(a);
    int code = 0;
    for (int k = 0; k < 15; ++k) code += n > kMidpoints.values[k];
    codes[i] = static_cast<uint8_t>(code);
  }
}

#if defined(__x86_64__)
LMFLOW_AVX512 void codes_avx512(const float* x, float a, uint8_t* codes) {
  const __m512d absmax = _mm512_set1_pd(a);
  const __m512i one = _mm512_set1_epi64(1);
  for (int i = 0; i < kNf4Block; i += 8) {
    const __m512d n = _mm512_div_pd(_mm512_cvtps_pd(_mm256_loadu_ps(x + i)), absmax);
    __m512i code = _mm512_setzero_si512();
    for (int k = 0; k < 15; ++k) {
      const __mmask8 above = _mm512_cmp_pd_mask(n, _mm512_set1_pd(kMidpoints.values[k]), _CMP_GT_OQ);
      code = _mm512_mask_add_epi64(code, above, code, one);
    }
    _mm_storel_epi64(reinterpret_cast<__m128i*>(codes + i), _mm512_cvtepi64_epi8(code));
  }
}

LMFLOW_AVX2 void codes_avx2(const float* x, float a, uint8_t* codes) {
  const __m256d absmax = _mm256_set1_pd(a);
  alignas(32) int64_t lanes[4];
  for (int i = 0; i < kNf4Block; i += 4) {
    const __m256d n = _mm256_div_pd(_mm256_cvtps_pd(_mm_loadu_ps(x + i)), absmax);
    __m256i code = _mm256_setzero_si256();
    for (int k = 0; k < 15; ++k) {
      // A true comparison is all ones (-1): subtracting it counts it.
      code = _mm256_sub_epi64(code, _mm256_castpd_si256(_mm256_cmp_pd(n, _mm256_set1_pd(kMidpoints.values[k]), _CMP_GT_OQ)));
    }
    _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), code);
    for (int j = 0; j < 4; ++j) codes[i + j] = static_cast<uint8_t>(lanes[j]);
  }
}
#endif

void block_codes(const float* x, float a, uint8_t* codes, SimdLevel level) {
  if (!(a > 0)) {
    std::memset(codes, kNf4ZeroCode, kNf4Block);
    return;
  }
#if defined(__x86_64__)
  if (level == SimdLevel::kAvx512) return codes_avx512(x, a, codes);
  if (level == SimdLevel::kAvx2) return codes_avx2(x, a, codes);
#endif
  (void)level;
  codes_scalar(x, a, codes);
}

}  // namespace

float nf4_quantize(const void* x, DType dtype, int64_t length, uint8_t* codes, uint8_t* absmax_codes, float* scales) {
  const int64_t blocks = length / kNf4Block;
  std::vector<float> absmax(blocks);
  const SimdLevel level = simd_level();
  parallel_for(blocks, 64, [&](int64_t begin, int64_t end) {
    float values[kNf4Block];
    uint8_t block[kNf4Block];
    for (int64_t b = begin; b < end; ++b) {
      load_f32(x, dtype, b * kNf4Block, kNf4Block, values);
      float a = 0;
      for (int i = 0; i < kNf4Block; ++i) a = std::max(a, std::fabs(values[i]));
      absmax[b] = a;
      block_codes(values, a, block, level);
      uint8_t* packed = codes + b * (kNf4Block / 2);
      for (int i = 0; i < kNf4Block / 2; ++i) packed[i] = static_cast<uint8_t>((block[2 * i] << 4) | block[2 * i + 1]);
    }
  });

  // Double quantization; cheap (one value per 64 weights) and order-sensitive, so sequential.
  double sum = 0;
  for (int64_t j = 0; j < blocks; ++j) sum += absmax[j];
  const float offset = blocks > 0 ? static_cast<float>(sum / static_cast<double>(blocks)) : 0.0f;
  for (int64_t start = 0; start < blocks; start += kNf4AbsmaxGroup) {
    const int64_t end = std::min(blocks, start + kNf4AbsmaxGroup);
    double widest = 0;
    for (int64_t j = start; j < end; ++j) widest = std::max(widest, std::fabs(static_cast<double>(absmax[j]) - offset));
    const float scale = static_cast<float>(widest);
    scales[start / kNf4AbsmaxGroup] = scale;
    for (int64_t j = start; j < end; ++j) {
      if (scale == 0) {
        absmax_codes[j] = 127;
        continue;
      }
      const double t = ((static_cast<double>(absmax[j]) - offset) * 127) / scale;
      const double q = std::min(127.0, std::max(-127.0, std::floor(t + 0.5)));
      absmax_codes[j] = static_cast<uint8_t>(static_cast<int>(q) + 127);
    }
  }
  return offset;
}

}  // namespace optim
}  // namespace lmflow
