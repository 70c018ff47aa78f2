// Host-side runtime entry points (runtime.cu) that the N-API binding calls.
#pragma once

#include <string>

namespace lmcuda {

struct ProbeResult {
  int count = 0;
  std::string error;  // why there is no device, when count is 0
  int driver_version = 0;
  int runtime_version = 0;
};

struct DeviceInfo {
  std::string name;
  int major = 0, minor = 0, multiprocessors = 0;
  double total_bytes = 0;
};

ProbeResult probe();
void select_device(int index);
DeviceInfo device_info(int index);
void mem_info(double* free_bytes, double* total_bytes);
void* device_malloc(size_t bytes);
void device_free(void* p);
void upload(void* dst, const void* src, size_t bytes);
void download(void* dst, const void* src, size_t bytes);
void copy_device(void* dst, const void* src, size_t bytes);
void synchronize();
int record_event();
bool query_event(int id);
void check_device_error();

}  // namespace lmcuda
