// Devices, the stream of each device, raw allocation (the caching allocator is on the
// TypeScript side, src/backends/cuda/allocator.ts), host-device copies through pinned
// staging buffers, events for the asynchronous sync/download of the TypeScript side, and the
// device error word that index kernels write.
//
// The CUDA runtime is linked statically (-cudart static): this library loads on a machine with
// no driver and no GPU, and probe() then reports why there is no device instead of failing
// to load.
#include "common.h"
#include "runtime.h"

#include <cstring>
#include <mutex>
#include <sstream>
#include <vector>

namespace lmcuda {

const char* dtype_name(int dt) {
  switch (dt) {
    case F32: return "f32";
    case BF16: return "bf16";
    case F16: return "f16";
    case I32: return "i32";
    case I64: return "i64";
    case U8: return "u8";
    case F64: return "f64";
    default: return "?";
  }
}

std::string View::describe() const {
  std::ostringstream s;
  s << dtype_name(dtype) << " [";
  for (int d = 0; d < ndim; d++) s << (d ? ", " : "") << shape[d];
  s << "]";
  return s.str();
}

View Args::view() {
  View v{};
  if (!view_or_null(&v)) fail(std::string(op_) + ": a required operand is missing");
  return v;
}

bool Args::view_or_null(View* v) {
  const int64_t ndim = i64();
  if (ndim < 0) return false;
  if (ndim > kMaxDims) fail(std::string(op_) + ": tensors of more than 8 dimensions are not supported on cuda");
  v->ndim = static_cast<int>(ndim);
  v->ptr = reinterpret_cast<char*>(static_cast<uintptr_t>(num()));
  v->dtype = static_cast<int>(i64());
  v->offset = i64();
  for (int d = 0; d < v->ndim; d++) v->shape[d] = i64();
  for (int d = 0; d < v->ndim; d++) v->strides[d] = i64();
  return true;
}

[[noreturn]] void fail(const std::string& message) { throw std::runtime_error(message); }

void check(cudaError_t err, const char* op, const char* what) {
  if (err != cudaSuccess) {
    cudaGetLastError();  // clear a non-sticky error so later calls work
    fail(std::string(op) + ": " + what + " failed: " + cudaGetErrorString(err) + " (" + cudaGetErrorName(err) + ")");
  }
}

void check_launch(const char* op) { check(cudaGetLastError(), op, "kernel launch"); }

namespace {

constexpr size_t kStagingBytes = 8u << 20;  // each of the two pinned staging buffers
constexpr int kStagingBuffers = 2;

struct DeviceState {
  bool ready = false;
  cudaStream_t stream = nullptr;
  DeviceError* error = nullptr;  // device memory
  char* staging[kStagingBuffers] = {};
  cudaEvent_t staging_done[kStagingBuffers] = {};
  int next_staging = 0;
};

std::vector<DeviceState> g_devices;
int g_current = -1;
std::vector<cudaEvent_t> g_events;  // id -> event (nullptr when free)

DeviceState& state() {
  if (g_current < 0) fail("cuda: no device selected (internal error)");
  return g_devices[g_current];
}

void init_device(int index) {
  DeviceState& d = g_devices[index];
  if (d.ready) return;
  check(cudaSetDevice(index), "cuda", "cudaSetDevice");
  check(cudaStreamCreateWithFlags(&d.stream, cudaStreamNonBlocking), "cuda", "cudaStreamCreate");
  // Kernels' scratch buffers (the attention backward's sums, ...) come from the default
  // stream-ordered pool (cudaMallocAsync). Its release threshold is 0 unless set: every
  // synchronisation would hand its memory back to the driver and the next call map it again.
  // Keep it; device_malloc trims the pool before giving up on an allocation. (Best effort: a
  // setup without memory pools keeps the driver's behaviour.)
  cudaMemPool_t pool = nullptr;
  uint64_t keep = UINT64_MAX;
  if (cudaDeviceGetDefaultMemPool(&pool, index) != cudaSuccess || cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep) != cudaSuccess) {
    cudaGetLastError();
  }
  check(cudaMalloc(&d.error, sizeof(DeviceError)), "cuda", "cudaMalloc (error word)");
  check(cudaMemsetAsync(d.error, 0, sizeof(DeviceError), d.stream), "cuda", "cudaMemset");
  for (int i = 0; i < kStagingBuffers; i++) {
    check(cudaHostAlloc(reinterpret_cast<void**>(&d.staging[i]), kStagingBytes, cudaHostAllocDefault), "cuda", "cudaHostAlloc (pinned staging)");
    check(cudaEventCreateWithFlags(&d.staging_done[i], cudaEventDisableTiming), "cuda", "cudaEventCreate");
  }
  d.ready = true;
}

}  // namespace

cudaStream_t stream() { return state().stream; }
int current_device() { return g_current; }
DeviceError* device_error_slot() { return state().error; }

ProbeResult probe() {
  ProbeResult r;
  cudaError_t err = cudaGetDeviceCount(&r.count);
  if (err != cudaSuccess) {
    cudaGetLastError();
    r.count = 0;
    r.error = std::string(cudaGetErrorName(err)) + ": " + cudaGetErrorString(err);
  } else if (r.count == 0) {
    r.error = "cudaGetDeviceCount found no CUDA device";
  }
  cudaDriverGetVersion(&r.driver_version);
  cudaRuntimeGetVersion(&r.runtime_version);
  if (static_cast<int>(g_devices.size()) < r.count) g_devices.resize(r.count);
  return r;
}

void select_device(int index) {
  if (index == g_current) return;
  if (g_devices.empty()) probe();
  if (index < 0 || index >= static_cast<int>(g_devices.size())) {
    fail("cuda:" + std::to_string(index) + ": no such device (" + std::to_string(g_devices.size()) + " found)");
  }
  init_device(index);
  check(cudaSetDevice(index), "cuda", "cudaSetDevice");
  g_current = index;
}

DeviceInfo device_info(int index) {
  cudaDeviceProp p{};
  check(cudaGetDeviceProperties(&p, index), "cuda", "cudaGetDeviceProperties");
  DeviceInfo info;
  info.name = p.name;
  info.major = p.major;
  info.minor = p.minor;
  info.total_bytes = static_cast<double>(p.totalGlobalMem);
  info.multiprocessors = p.multiProcessorCount;
  return info;
}

void mem_info(double* free_bytes, double* total_bytes) {
  size_t f = 0, t = 0;
  check(cudaMemGetInfo(&f, &t), "cuda", "cudaMemGetInfo");
  *free_bytes = static_cast<double>(f);
  *total_bytes = static_cast<double>(t);
}

// nullptr when the device is out of memory (the allocator then frees its cache and retries).
void* device_malloc(size_t bytes) {
  void* p = nullptr;
  cudaError_t err = cudaMalloc(&p, bytes == 0 ? 1 : bytes);
  if (err == cudaErrorMemoryAllocation) {
    // The scratch pool may hold what is missing (init_device keeps it): hand that back first.
    cudaGetLastError();
    cudaMemPool_t pool = nullptr;
    int dev = 0;
    if (cudaGetDevice(&dev) == cudaSuccess && cudaDeviceGetDefaultMemPool(&pool, dev) == cudaSuccess) {
      cudaStreamSynchronize(stream());  // frees queued on the stream complete, so their memory can go
      cudaMemPoolTrimTo(pool, 0);
      err = cudaMalloc(&p, bytes == 0 ? 1 : bytes);
    }
  }
  if (err == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    return nullptr;
  }
  check(err, "cuda", "cudaMalloc");
  return p;
}

void device_free(void* p) {
  // cudaFree waits for the device; the allocator calls it only when emptying its cache.
  check(cudaFree(p), "cuda", "cudaFree");
}

void upload(void* dst, const void* src, size_t bytes) {
  DeviceState& d = state();
  const char* from = static_cast<const char*>(src);
  char* to = static_cast<char*>(dst);
  while (bytes > 0) {
    const size_t n = bytes < kStagingBytes ? bytes : kStagingBytes;
    const int b = d.next_staging;
    d.next_staging = (b + 1) % kStagingBuffers;
    // The copy that last used this staging buffer must be done before it is overwritten.
    check(cudaEventSynchronize(d.staging_done[b]), "upload", "cudaEventSynchronize");
    std::memcpy(d.staging[b], from, n);
    check(cudaMemcpyAsync(to, d.staging[b], n, cudaMemcpyHostToDevice, d.stream), "upload", "cudaMemcpyAsync");
    check(cudaEventRecord(d.staging_done[b], d.stream), "upload", "cudaEventRecord");
    from += n;
    to += n;
    bytes -= n;
  }
}

void download(void* dst, const void* src, size_t bytes) {
  DeviceState& d = state();
  char* to = static_cast<char*>(dst);
  const char* from = static_cast<const char*>(src);
  while (bytes > 0) {
    const size_t n = bytes < kStagingBytes ? bytes : kStagingBytes;
    const int b = d.next_staging;
    d.next_staging = (b + 1) % kStagingBuffers;
    check(cudaMemcpyAsync(d.staging[b], from, n, cudaMemcpyDeviceToHost, d.stream), "download", "cudaMemcpyAsync");
    check(cudaStreamSynchronize(d.stream), "download", "cudaStreamSynchronize");
    std::memcpy(to, d.staging[b], n);
    to += n;
    from += n;
    bytes -= n;
  }
  check_device_error();
}

void copy_device(void* dst, const void* src, size_t bytes) {
  check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream()), "copy", "cudaMemcpyAsync");
}

void synchronize() {
  check(cudaStreamSynchronize(stream()), "sync", "cudaStreamSynchronize");
  check_device_error();
}

int record_event() {
  cudaEvent_t e = nullptr;
  check(cudaEventCreateWithFlags(&e, cudaEventDisableTiming), "sync", "cudaEventCreate");
  check(cudaEventRecord(e, stream()), "sync", "cudaEventRecord");
  for (size_t i = 0; i < g_events.size(); i++) {
    if (!g_events[i]) {
      g_events[i] = e;
      return static_cast<int>(i);
    }
  }
  g_events.push_back(e);
  return static_cast<int>(g_events.size() - 1);
}

bool query_event(int id) {
  if (id < 0 || id >= static_cast<int>(g_events.size()) || !g_events[id]) fail("sync: unknown event " + std::to_string(id));
  cudaError_t err = cudaEventQuery(g_events[id]);
  if (err == cudaErrorNotReady) return false;
  check(err, "sync", "cudaEventQuery");
  cudaEventDestroy(g_events[id]);
  g_events[id] = nullptr;
  return true;
}

// Reads (after the stream is idle) and clears the device error word, throwing what it holds.
void check_device_error() {
  DeviceState& d = state();
  DeviceError e{};
  check(cudaMemcpy(&e, d.error, sizeof(e), cudaMemcpyDeviceToHost), "sync", "cudaMemcpy (error word)");
  if (e.code == kErrNone) return;
  check(cudaMemset(d.error, 0, sizeof(DeviceError)), "sync", "cudaMemset");
  std::ostringstream m;
  switch (e.code) {
    case kErrIndexSelect: m << "indexSelect: index " << e.value << " (element " << e.where << " of index) is out of range for an axis of size " << e.limit; break;
    case kErrIndexAdd: m << "indexAdd: index " << e.value << " (element " << e.where << " of index) is out of range for an axis of size " << e.limit; break;
    case kErrGather: m << "gather: index " << e.value << " (element " << e.where << " of index) is out of range for an axis of size " << e.limit; break;
    case kErrScatterAdd: m << "scatterAdd: index " << e.value << " (element " << e.where << " of index) is out of range for an axis of size " << e.limit; break;
    case kErrCrossEntropy: m << "crossEntropy: target " << e.value << " of row " << e.where << " is outside [0, " << e.limit << ") and is not ignoreIndex"; break;
    default: m << "cuda kernel error " << e.code;
  }
  m << " (found by a cuda kernel; reported at the next sync, so the failing op may be earlier than this call)";
  fail(m.str());
}

}  // namespace lmcuda
