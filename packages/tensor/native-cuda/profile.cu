// LMFLOW_CUDA_PROFILE=1: a per-kernel-call profile of a whole process, printed to stderr at
// exit. Each call of a kernel entry point is bracketed by two timing events on the stream
// (GPU time) and timed on the host (time spent inside the call, launch included), then
// summed by op name; the GPU's busy fraction of the wall time between the first and the last
// call tells whether a run waits on the GPU or on the host (JavaScript, allocation, launches).
// Debugging aid only: recording events costs a little on every call.
#include "profile.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "common.h"

namespace lmcuda {
namespace {

struct Call {
  std::string name;
  cudaEvent_t start, end;
  double host_ms;
};

struct Profile {
  std::vector<Call> calls;
  std::chrono::steady_clock::time_point first, last;
  std::chrono::steady_clock::time_point began;
};

Profile* g_profile = nullptr;
std::string g_label;  // set by the running kernel entry (profile_label), taken by profile_end

void report() {
  Profile& p = *g_profile;
  if (p.calls.empty()) return;
  cudaDeviceSynchronize();
  struct Sum { double gpu = 0, host = 0; long count = 0; };
  std::map<std::string, Sum> by_op;
  double gpu_total = 0, host_total = 0;
  for (const Call& c : p.calls) {
    float ms = 0;
    cudaEventElapsedTime(&ms, c.start, c.end);
    Sum& s = by_op[c.name];
    s.gpu += ms;
    s.host += c.host_ms;
    s.count++;
    gpu_total += ms;
    host_total += c.host_ms;
  }
  const double wall = std::chrono::duration<double, std::milli>(p.last - p.first).count();
  std::fprintf(stderr, "\nLMFLOW_CUDA_PROFILE: %zu kernel calls over %.1f ms of wall time; GPU busy %.1f ms (%.0f%%), host inside calls %.1f ms\n",
               p.calls.size(), wall, gpu_total, wall > 0 ? 100.0 * gpu_total / wall : 0.0, host_total);
  std::vector<std::pair<std::string, Sum>> rows(by_op.begin(), by_op.end());
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.second.gpu > b.second.gpu; });
  std::fprintf(stderr, "%-40s %8s %12s %8s %12s\n", "op", "calls", "GPU ms", "GPU %", "host ms");
  for (const auto& [name, s] : rows) {
    std::fprintf(stderr, "%-40s %8ld %12.2f %7.1f%% %12.2f\n", name.c_str(), s.count, s.gpu, gpu_total > 0 ? 100.0 * s.gpu / gpu_total : 0.0, s.host);
  }
}

}  // namespace

void profile_label(std::string label) { g_label = std::move(label); }

bool profiling() {
  static const bool on = [] {
    const char* e = std::getenv("LMFLOW_CUDA_PROFILE");
    return e != nullptr && *e != '\0' && *e != '0';
  }();
  return on;
}

ProfileToken profile_begin(const char* name) {
  if (!g_profile) {
    g_profile = new Profile();
    g_profile->first = std::chrono::steady_clock::now();
    std::atexit(report);
  }
  ProfileToken t{name, nullptr, std::chrono::steady_clock::now()};
  cudaEvent_t e;
  if (cudaEventCreate(&e) == cudaSuccess && cudaEventRecord(e, stream()) == cudaSuccess) t.start = e;
  return t;
}

void profile_end(const ProfileToken& t) {
  const auto now = std::chrono::steady_clock::now();
  cudaEvent_t e;
  if (!t.start || cudaEventCreate(&e) != cudaSuccess || cudaEventRecord(e, stream()) != cudaSuccess) return;
  g_profile->calls.push_back({g_label.empty() ? std::string(t.name) : g_label, t.start, e, std::chrono::duration<double, std::milli>(now - t.host_start).count()});
  g_label.clear();
  g_profile->last = now;
}

}  // namespace lmcuda
