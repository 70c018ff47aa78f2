// Shared by every CUDA source: element types, the strided view a kernel receives, the argument
// reader that decodes what the TypeScript side packs (src/backends/cuda/args.ts), the stream
// of the current device, and error checks that turn CUDA errors into messages naming the op.
#pragma once

#include <cuda_runtime.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <stdexcept>
#include <string>

namespace lmcuda {

// Shared with src/backends/cpu/native.ts (DTYPE_CODES) and src/backends/cuda/args.ts.
enum DType : int { F32 = 0, BF16 = 1, F16 = 2, I32 = 3, I64 = 4, U8 = 5, F64 = 6 };

constexpr int kMaxDims = 8;

__host__ __device__ inline int item_size(int dt) {
  switch (dt) {
    case F32: case I32: return 4;
    case BF16: case F16: return 2;
    case I64: case F64: return 8;
    default: return 1;
  }
}
inline bool is_float(int dt) { return dt == F32 || dt == BF16 || dt == F16 || dt == F64; }
const char* dtype_name(int dt);

// A strided window into device memory; offsets and strides in elements.
struct View {
  char* ptr;  // the storage's base pointer (not offset)
  int dtype;
  int ndim;
  int64_t offset;
  int64_t shape[kMaxDims];
  int64_t strides[kMaxDims];

  __host__ __device__ int64_t numel() const {
    int64_t n = 1;
    for (int d = 0; d < ndim; d++) n *= shape[d];
    return n;
  }
  __host__ __device__ int64_t size(int d) const { return shape[d < 0 ? ndim + d : d]; }
  __host__ __device__ int64_t stride(int d) const { return strides[d < 0 ? ndim + d : d]; }
  __host__ __device__ bool contiguous() const {
    int64_t expect = 1;
    for (int d = ndim - 1; d >= 0; d--) {
      if (shape[d] != 1 && strides[d] != expect) return false;
      expect *= shape[d];
    }
    return true;
  }
  // The first element's address.
  __host__ __device__ char* data() const { return ptr + offset * item_size(dtype); }
  std::string describe() const;
};

// Reads the Float64Array the TypeScript side fills for each call (one call, one array).
// Layout of a view: ndim, ptr, dtype, offset, shape[ndim], strides[ndim]; a null view is -1.
class Args {
 public:
  Args(const double* data, size_t length, const char* op) : a_(data), n_(length), op_(op) {}
  double num() {
    if (i_ >= n_) throw std::runtime_error(std::string(op_) + ": too few arguments (an @lmflow/tensor version mismatch?)");
    return a_[i_++];
  }
  int64_t i64() { return static_cast<int64_t>(num()); }
  bool flag() { return num() != 0; }
  View view();
  // false (and v untouched) for a null view.
  bool view_or_null(View* v);
  const char* op() const { return op_; }

 private:
  const double* a_;
  size_t n_;
  size_t i_ = 0;
  const char* op_;
};

// The one stream of the current device; kernels and copies of a backend are ordered on it.
cudaStream_t stream();
int current_device();
// Throws "<op>: <what> failed: <cuda message>".
void check(cudaError_t err, const char* op, const char* what);
// Checks the launch of the kernel just queued.
void check_launch(const char* op);
[[noreturn]] void fail(const std::string& message);

// Device-side error word: kernels that find a bad index or target record the first one here
// (a device cannot throw); the next sync or download reports it (see runtime.cu).
struct DeviceError {
  int code;       // 0: none; otherwise an ErrorCode
  int64_t value;  // the offending value
  int64_t where;  // the element or row index
  int64_t limit;  // the valid range's end
};
enum ErrorCode : int { kErrNone = 0, kErrIndexSelect = 1, kErrIndexAdd, kErrGather, kErrScatterAdd, kErrCrossEntropy, kErrEmbedding };
DeviceError* device_error_slot();

inline unsigned blocks_for(int64_t n, int threads) {
  int64_t b = (n + threads - 1) / threads;
  return static_cast<unsigned>(b > 65535LL * 32 ? 65535LL * 32 : (b < 1 ? 1 : b));
}

}  // namespace lmcuda
