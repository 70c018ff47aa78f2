#include "cpu-features.h"

#include <cstdlib>
#include <cstring>

namespace lmflow {
namespace {

SimdLevel detect() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq")) {
    return SimdLevel::kAvx512;
  }
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
      __builtin_cpu_supports("f16c")) {
    return SimdLevel::kAvx2;
  }
  return SimdLevel::kScalar;
}

SimdLevel clamp_to_hardware(SimdLevel wanted) {
  static const SimdLevel hardware = detect();
  return wanted < hardware ? wanted : hardware;
}

SimdLevel initial() {
  SimdLevel level = clamp_to_hardware(SimdLevel::kAvx512);
  if (const char* env = std::getenv("LMFLOW_CPU_KERNEL")) {
    if (std::strcmp(env, "scalar") == 0) level = SimdLevel::kScalar;
    else if (std::strcmp(env, "avx2") == 0) level = clamp_to_hardware(SimdLevel::kAvx2);
    else if (std::strcmp(env, "avx512") == 0) level = clamp_to_hardware(SimdLevel::kAvx512);
  }
  return level;
}

SimdLevel current = initial();

}  // namespace

SimdLevel simd_level() { return current; }

void set_simd_level(SimdLevel level) { current = clamp_to_hardware(level); }

const char* simd_level_name(SimdLevel level) {
  switch (level) {
    case SimdLevel::kAvx512: return "avx512";
    case SimdLevel::kAvx2: return "avx2";
    default: return "scalar";
  }
}

}  // namespace lmflow
