// The nn kernels compiled for AVX2 + FMA + F16C (per-function target attributes, so the rest of the
// addon still runs on CPUs without them; nn_kernels() only picks this table where it can run).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "nn/kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define NN_TARGET __attribute__((target("avx2,fma,f16c")))

namespace lmflow {
namespace nn {
namespace avx2 {
#include "nn/simd-avx2.h"
#include "nn/kernels-body.h"
}  // namespace avx2

const NnKernels& kernels_avx2() { return avx2::kTable; }

}  // namespace nn
}  // namespace lmflow

#undef NN_TARGET

#else

namespace lmflow {
namespace nn {
const NnKernels& kernels_avx2() { return kernels_scalar(); }
}  // namespace nn
}  // namespace lmflow

#endif
