// Which SIMD kernels this CPU can run, decided once at load time.
//
// LMFLOW_CPU_KERNEL=avx512|avx2|scalar forces a lower level (tests use it to exercise
// every path on one machine); asking for a level the CPU lacks falls back to the best it has.
#pragma once

namespace lmflow {

enum class SimdLevel { kScalar = 0, kAvx2 = 1, kAvx512 = 2 };

SimdLevel simd_level();
const char* simd_level_name(SimdLevel level);
// Overrides the level for the rest of the process (clamped to what the CPU supports).
void set_simd_level(SimdLevel level);

}  // namespace lmflow
