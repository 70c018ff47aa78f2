// The nn kernels in plain C++ (one float per "vector"): the fallback for CPUs without AVX2
// and for other architectures, and the path LMFLOW_CPU_KERNEL=scalar tests.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "nn/kernels.h"

#define NN_TARGET

namespace lmflow {
namespace nn {
namespace scalar {
#include "nn/simd-scalar.h"
#include "nn/kernels-body.h"
}  // namespace scalar

const NnKernels& kernels_scalar() { return scalar::kTable; }

}  // namespace nn
}  // namespace lmflow

#undef NN_TARGET
