// The nn kernels compiled for AVX-512 (per-function target attributes, so the rest of the
// addon still runs on CPUs without it; nn_kernels() only picks this table where it can run).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "nn/kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

// GCC 12 warns about its own _mm512_undefined_ps() inside the AVX-512 intrinsics.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#define NN_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma,f16c")))

namespace lmflow {
namespace nn {
namespace avx512 {
#include "nn/simd-avx512.h"
#include "nn/kernels-body.h"
}  // namespace avx512

const NnKernels& kernels_avx512() { return avx512::kTable; }

}  // namespace nn
}  // namespace lmflow

#undef NN_TARGET

#else

namespace lmflow {
namespace nn {
const NnKernels& kernels_avx512() { return kernels_scalar(); }
}  // namespace nn
}  // namespace lmflow

#endif
