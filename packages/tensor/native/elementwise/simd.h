// Runtime SIMD dispatch for the elementwise kernels.
//
// A kernel is a struct with a static, always-inline `run(...)` holding a plain loop. simd_call
// compiles that loop three times, inlined into functions built for AVX-512, AVX2+FMA+F16C and
// the baseline ISA, and calls the one simd_level() selects. GCC vectorizes each copy for its
// ISA, so one readable loop gives every path (and the baseline copy is the portable fallback).
#pragma once

// Our loops compute both sides of every select unconditionally; without this GCC may not
// if-convert them (a division on one side "might trap") and leaves the loop scalar outside
// AVX-512, which has masked operations. Results are unchanged: only FP exception flags,
// which nothing here reads, could differ.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif

#include "common/cpu-features.h"

#define LMFLOW_INLINE inline __attribute__((always_inline))

#if defined(__x86_64__)
#define LMFLOW_TARGET_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma,f16c")))
#define LMFLOW_TARGET_AVX2 __attribute__((target("avx2,fma,f16c")))
#endif

namespace lmflow {
namespace ew {

#if defined(__x86_64__)
template <class K, class... A>
LMFLOW_TARGET_AVX512 __attribute__((flatten, noinline)) auto run_avx512(A... a) {
  return K::run(a...);
}
template <class K, class... A>
LMFLOW_TARGET_AVX2 __attribute__((flatten, noinline)) auto run_avx2(A... a) {
  return K::run(a...);
}
#endif
template <class K, class... A>
__attribute__((flatten, noinline)) auto run_baseline(A... a) {
  return K::run(a...);
}

// Calls K::run(a...) compiled for the current SIMD level.
template <class K, class... A>
inline auto simd_call(A... a) {
#if defined(__x86_64__)
  switch (simd_level()) {
    case SimdLevel::kAvx512: return run_avx512<K>(a...);
    case SimdLevel::kAvx2: return run_avx2<K>(a...);
    default: break;
  }
#endif
  return run_baseline<K>(a...);
}

}  // namespace ew
}  // namespace lmflow
