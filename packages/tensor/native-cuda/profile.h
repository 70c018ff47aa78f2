// LMFLOW_CUDA_PROFILE (profile.cu): GPU and host time of every kernel call, summed by op.
#pragma once

#include <chrono>
#include <string>

#include <cuda_runtime.h>

namespace lmcuda {

struct ProfileToken {
  const char* name;
  cudaEvent_t start;
  std::chrono::steady_clock::time_point host_start;
};

bool profiling();
ProfileToken profile_begin(const char* name);
void profile_end(const ProfileToken& t);
// Names the current call in the profile more precisely (shapes), in place of the op name.
void profile_label(std::string label);

// Runs f, timed as its own row of the profile when profiling (a part of a kernel entry, such
// as one pass of the attention backward; the entry's own row still counts the whole call).
template <typename F>
void profiled(const char* name, F&& f) {
  if (!profiling()) return f();
  const ProfileToken t = profile_begin(name);
  f();
  profile_end(t);
}

}  // namespace lmcuda
