// Picks the nn kernel table of the SIMD level in force (cpu-features.h) on every call.
#include "common/cpu-features.h"
#include "nn/kernels.h"

namespace lmflow {
namespace nn {

const NnKernels& nn_kernels() {
  switch (simd_level()) {
    case SimdLevel::kAvx512: return kernels_avx512();
    case SimdLevel::kAvx2: return kernels_avx2();
    default: return kernels_scalar();
  }
}

}  // namespace nn
}  // namespace lmflow
