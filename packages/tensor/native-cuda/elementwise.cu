// Layout and elementwise kernels: fill, copy (with dtype conversion), counter-based random
// numbers, unary ops and their gradients, binary/compare/scalar ops, where, reductions and
// argmax. The TypeScript side coalesces dimensions first (src/backends/cuda/plans.ts), so a
// contiguous operand arrives as one dimension and offset_of() is one division.
#include "dense.cuh"
#include "device.cuh"
#include "ops.h"
#include "runtime.h"

#include <climits>

namespace lmcuda {
namespace {

constexpr int kThreads = 256;

// ---- fill, copy -------------------------------------------------------------------------

template <typename T>
__global__ void fill_kernel(View out, T value, int64_t n) {
  LMCUDA_FOR(i, n) store_as<T>(out.ptr, out.dtype, offset_of(out, i), value);
}

// Same dtype: a raw copy of each element's bytes (exact for i64 and NaN payloads).
template <typename E>
__global__ void copy_raw_kernel(View src, View out, int64_t n) {
  LMCUDA_FOR(i, n) {
    reinterpret_cast<E*>(out.ptr)[offset_of(out, i)] = reinterpret_cast<const E*>(src.ptr)[offset_of(src, i)];
  }
}

__global__ void copy_convert_kernel(View src, View out, int64_t n) {
  LMCUDA_FOR(i, n) {
    if (src.dtype == I64 && out.dtype == I64) continue;  // handled by the raw path
    store_as<double>(out.ptr, out.dtype, offset_of(out, i), load_as<double>(src.ptr, src.dtype, offset_of(src, i)));
  }
}

// ---- random (src/random.ts, bit for bit) ---------------------------------------------------

__device__ __forceinline__ uint32_t hash32(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352du;
  x ^= x >> 15;
  x *= 0x846ca68bu;
  return x ^ (x >> 16);
}
__device__ __forceinline__ uint32_t random_bits(uint32_t k1, uint32_t k2, uint64_t c) {
  return hash32(hash32(static_cast<uint32_t>(c) ^ k1) + hash32(static_cast<uint32_t>(c >> 32) ^ k2));
}
__device__ __forceinline__ double uniform_at(uint32_t k1, uint32_t k2, uint64_t c) {
  return static_cast<double>(random_bits(k1, k2, c) >> 8) * 5.9604644775390625e-8;
}

__global__ void random_kernel(View out, int kind, double a, double b, uint32_t k1, uint32_t k2, uint64_t offset,
                              uint64_t threshold, int64_t n) {
  LMCUDA_FOR(i, n) {
    double v;
    if (kind == 0) {
      v = a + (b - a) * uniform_at(k1, k2, offset + i);
    } else if (kind == 1) {
      const double u1 = uniform_at(k1, k2, offset + 2 * i);
      const double u2 = uniform_at(k1, k2, offset + 2 * i + 1);
      v = a + b * (sqrt(-2.0 * log(1.0 - u1)) * cos(6.283185307179586 * u2));
    } else {
      v = random_bits(k1, k2, offset + i) < threshold ? 1.0 : 0.0;
    }
    store_as<double>(out.ptr, out.dtype, offset_of(out, i), v);
  }
}

uint32_t hash32_host(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352du;
  x ^= x >> 15;
  x *= 0x846ca68bu;
  return x ^ (x >> 16);
}

// ---- unary ---------------------------------------------------------------------------------

template <typename T>
__device__ __forceinline__ T sigmoid_of(T x) { return T(1) / (T(1) + exp(-x)); }

template <typename T>
__device__ __forceinline__ T unary_of(int op, T x) {
  const T kSqrt2OverPi = T(0.7978845608028654);
  switch (op) {
    case 0: return -x;
    case 1: return fabs(x);
    case 2: return exp(x);
    case 3: return log(x);
    case 4: return sqrt(x);
    case 5: return T(1) / sqrt(x);
    case 6: return x * x;
    case 7: return T(1) / x;
    case 8: return sin(x);
    case 9: return cos(x);
    case 10: return tanh(x);
    case 11: return sigmoid_of(x);
    case 12: return x <= T(0) ? T(0) : x;  // relu(NaN) stays NaN
    case 13: return x * sigmoid_of(x);
    case 14: return x * T(0.5) * erfc(-x * T(0.7071067811865476));
    default: return T(0.5) * x * (T(1) + tanh(kSqrt2OverPi * (x + T(0.044715) * x * x * x)));
  }
}

template <typename T>
__device__ __forceinline__ T unary_grad_of(int op, T x, T dy) {
  const T kSqrt2OverPi = T(0.7978845608028654);
  switch (op) {
    case 0: return -dy;
    case 1: return x > T(0) ? dy : (x < T(0) ? -dy : T(0));
    case 2: return dy * exp(x);
    case 3: return dy / x;
    case 4: return dy * T(0.5) / sqrt(x);
    case 5: return dy * T(-0.5) / (x * sqrt(x));
    case 6: return dy * T(2) * x;
    case 7: return -dy / (x * x);
    case 8: return dy * cos(x);
    case 9: return -dy * sin(x);
    case 10: { const T t = tanh(x); return dy * (T(1) - t * t); }
    case 11: { const T s = sigmoid_of(x); return dy * s * (T(1) - s); }
    case 12: return x > T(0) ? dy : T(0);
    case 13: { const T s = sigmoid_of(x); return dy * s * (T(1) + x * (T(1) - s)); }
    case 14: return dy * (T(0.5) * erfc(-x * T(0.7071067811865476)) + x * T(0.3989422804014327) * exp(T(-0.5) * x * x));
    default: {
      const T t = tanh(kSqrt2OverPi * (x + T(0.044715) * x * x * x));
      const T du = kSqrt2OverPi * (T(1) + T(3) * T(0.044715) * x * x);
      return dy * (T(0.5) * (T(1) + t) + T(0.5) * x * (T(1) - t * t) * du);
    }
  }
}

template <typename T>
__global__ void unary_kernel(int op, View x, View out, int64_t n) {
  LMCUDA_FOR(i, n) {
    const T v = load_as<T>(x.ptr, x.dtype, offset_of(x, i));
    store_as<T>(out.ptr, out.dtype, offset_of(out, i), unary_of<T>(op, v));
  }
}

template <typename T>
__global__ void unary_grad_kernel(int op, View x, View dy, View out, int64_t n) {
  LMCUDA_FOR(i, n) {
    const T v = load_as<T>(x.ptr, x.dtype, offset_of(x, i));
    const T g = load_as<T>(dy.ptr, dy.dtype, offset_of(dy, i));
    store_as<T>(out.ptr, out.dtype, offset_of(out, i), unary_grad_of<T>(op, v, g));
  }
}

// ---- binary, compare, scalar, where -----------------------------------------------------------

// maximum and minimum propagate NaN from either side (torch, and Math.max in the reference).
template <typename T>
__device__ __forceinline__ T nan_max(T a, T b) { return (a != a || b != b) ? a + b : (a > b ? a : b); }
template <typename T>
__device__ __forceinline__ T nan_min(T a, T b) { return (a != a || b != b) ? a + b : (a < b ? a : b); }

template <typename T>
__device__ __forceinline__ T binary_of(int op, T a, T b) {
  switch (op) {
    case 0: return a + b;
    case 1: return a - b;
    case 2: return a * b;
    case 3: return a / b;
    case 4: return nan_max(a, b);
    case 5: return nan_min(a, b);
    default: return pow(a, b);
  }
}

template <typename T>
__global__ void binary_kernel(int op, View a, View b, View out, int64_t n) {
  LMCUDA_FOR(i, n) {
    const T x = load_as<T>(a.ptr, a.dtype, offset_of(a, i));
    const T y = load_as<T>(b.ptr, b.dtype, offset_of(b, i));
    store_as<T>(out.ptr, out.dtype, offset_of(out, i), binary_of<T>(op, x, y));
  }
}

__global__ void compare_kernel(int op, View a, View b, View out, int64_t n) {
  LMCUDA_FOR(i, n) {
    bool r;
    if (a.dtype == I64 && b.dtype == I64) {
      const long long x = reinterpret_cast<const long long*>(a.ptr)[offset_of(a, i)];
      const long long y = reinterpret_cast<const long long*>(b.ptr)[offset_of(b, i)];
      r = op == 0 ? x == y : op == 1 ? x != y : op == 2 ? x < y : op == 3 ? x <= y : op == 4 ? x > y : x >= y;
    } else {
      const double x = load_as<double>(a.ptr, a.dtype, offset_of(a, i));
      const double y = load_as<double>(b.ptr, b.dtype, offset_of(b, i));
      r = op == 0 ? x == y : op == 1 ? x != y : op == 2 ? x < y : op == 3 ? x <= y : op == 4 ? x > y : x >= y;
    }
    reinterpret_cast<uint8_t*>(out.ptr)[offset_of(out, i)] = r ? 1 : 0;
  }
}

template <typename T>
__device__ __forceinline__ T scalar_of(int op, T x, T s) {
  switch (op) {
    case 0: return x + s;
    case 1: return x * s;
    case 2: return s == T(2) ? x * x : pow(x, s);
    case 3: return nan_max(x, s);
    case 4: return nan_min(x, s);
    case 5: return s - x;
    default: return s / x;
  }
}

// The ops as functors of (x, y) for the dense fast path (dense.cuh).
struct UnaryF {
  int op;
  __device__ float operator()(float x, float) const { return unary_of<float>(op, x); }
};
struct UnaryGradF {
  int op;
  __device__ float operator()(float x, float dy) const { return unary_grad_of<float>(op, x, dy); }
};
struct BinaryF {
  int op;
  __device__ float operator()(float x, float y) const { return binary_of<float>(op, x, y); }
};
struct ScalarF {
  int op;
  float s;
  __device__ float operator()(float x, float) const { return scalar_of<float>(op, x, s); }
};

template <typename T>
__global__ void scalar_kernel(int op, View x, T s, View out, int64_t n) {
  LMCUDA_FOR(i, n) {
    const T v = load_as<T>(x.ptr, x.dtype, offset_of(x, i));
    store_as<T>(out.ptr, out.dtype, offset_of(out, i), scalar_of<T>(op, v, s));
  }
}

template <typename E>
__global__ void where_kernel(View cond, View a, View b, View out, int64_t n) {
  LMCUDA_FOR(i, n) {
    const bool c = reinterpret_cast<const uint8_t*>(cond.ptr)[offset_of(cond, i)] != 0;
    const E v = c ? reinterpret_cast<const E*>(a.ptr)[offset_of(a, i)] : reinterpret_cast<const E*>(b.ptr)[offset_of(b, i)];
    reinterpret_cast<E*>(out.ptr)[offset_of(out, i)] = v;
  }
}

// ---- reductions ------------------------------------------------------------------------------

template <typename A> __device__ __forceinline__ A lowest_of();
template <> __device__ __forceinline__ double lowest_of<double>() { return -INFINITY; }
template <> __device__ __forceinline__ long long lowest_of<long long>() { return LLONG_MIN; }
template <typename A> __device__ __forceinline__ A highest_of();
template <> __device__ __forceinline__ double highest_of<double>() { return INFINITY; }
template <> __device__ __forceinline__ long long highest_of<long long>() { return LLONG_MAX; }
template <typename A> __device__ __forceinline__ A nan_of() { return A(0); }
template <> __device__ __forceinline__ double nan_of<double>() { return NAN; }

// One block per output element. kept: the kept dims of x (offset = x's offset); red: the
// reduced dims (offset 0). Floats accumulate in double, integers in 64-bit integers.
template <typename A>
__global__ void reduce_kernel(int op, View kept, View red, View out, int64_t outputs, int64_t count) {
  for (int64_t o = blockIdx.x; o < outputs; o += gridDim.x) {
    const int64_t base = offset_of(kept, o);
    A acc = op == 0 ? A(0) : (op == 1 ? lowest_of<A>() : highest_of<A>());
    bool nan = false;
    for (int64_t r = threadIdx.x; r < count; r += blockDim.x) {
      const A v = load_as<A>(kept.ptr, kept.dtype, base + offset_of(red, r));
      if (op == 0) acc += v;
      else if (v != v) nan = true;
      else acc = op == 1 ? (v > acc ? v : acc) : (v < acc ? v : acc);
    }
    // Combine across the block through shared memory (A may be an integer type).
    __shared__ A partial[kThreads];
    __shared__ int any_nan;
    if (threadIdx.x == 0) any_nan = 0;
    __syncthreads();
    if (nan) any_nan = 1;
    partial[threadIdx.x] = acc;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
      if (threadIdx.x < s) {
        const A p = partial[threadIdx.x], q = partial[threadIdx.x + s];
        partial[threadIdx.x] = op == 0 ? p + q : (op == 1 ? (q > p ? q : p) : (q < p ? q : p));
      }
      __syncthreads();
    }
    if (threadIdx.x == 0) {
      A r = partial[0];
      if (any_nan) r = nan_of<A>();
      store_as<A>(out.ptr, out.dtype, out.offset + o, r);
    }
    __syncthreads();
  }
}

// The first maximum along the axis; NaN counts as larger than everything (torch).
__global__ void argmax_kernel(View kept, int64_t n, int64_t stride, View out, int64_t outputs) {
  LMCUDA_FOR(o, outputs) {
    const int64_t base = offset_of(kept, o);
    double best = load_as<double>(kept.ptr, kept.dtype, base);
    int64_t at = 0;
    for (int64_t i = 1; i < n && best == best; i++) {
      const double v = load_as<double>(kept.ptr, kept.dtype, base + i * stride);
      if (v > best || v != v) {
        best = v;
        at = i;
      }
    }
    store_as<double>(out.ptr, out.dtype, out.offset + o, static_cast<double>(at));
  }
}

bool wide(int dt) { return dt == F64 || dt == I32 || dt == I64 || dt == U8; }

void same_shape(const char* op, const View& a, const View& b, const char* an, const char* bn) {
  if (a.ndim != b.ndim) fail(std::string(op) + ": " + an + " " + a.describe() + " and " + bn + " " + b.describe() + " differ in shape");
  for (int d = 0; d < a.ndim; d++) {
    if (a.shape[d] != b.shape[d]) fail(std::string(op) + ": " + an + " " + a.describe() + " and " + bn + " " + b.describe() + " differ in shape");
  }
}

}  // namespace

void k_fill(Args& args) {
  View out = args.view();
  const double value = args.num();
  const int64_t n = out.numel();
  if (n == 0) return;
  if (wide(out.dtype)) fill_kernel<double><<<blocks_for(n, kThreads), kThreads, 0, stream()>>>(out, value, n);
  else fill_kernel<float><<<blocks_for(n, kThreads), kThreads, 0, stream()>>>(out, static_cast<float>(value), n);
  check_launch("fill");
}

void k_copy(Args& args) {
  View src = args.view();
  View out = args.view();
  same_shape("copy", src, out, "src", "out");
  const int64_t n = out.numel();
  if (n == 0) return;
  if (src.dtype == out.dtype && src.contiguous() && out.contiguous()) {
    copy_device(out.data(), src.data(), static_cast<size_t>(n) * item_size(out.dtype));
    return;
  }
  const unsigned blocks = blocks_for(n, kThreads);
  if (src.dtype == out.dtype) {
    switch (item_size(out.dtype)) {
      case 1: copy_raw_kernel<uint8_t><<<blocks, kThreads, 0, stream()>>>(src, out, n); break;
      case 2: copy_raw_kernel<uint16_t><<<blocks, kThreads, 0, stream()>>>(src, out, n); break;
      case 4: copy_raw_kernel<uint32_t><<<blocks, kThreads, 0, stream()>>>(src, out, n); break;
      default: copy_raw_kernel<uint64_t><<<blocks, kThreads, 0, stream()>>>(src, out, n); break;
    }
  } else {
    copy_convert_kernel<<<blocks, kThreads, 0, stream()>>>(src, out, n);
  }
  check_launch("copy");
}

void k_random(Args& args) {
  View out = args.view();
  const int kind = static_cast<int>(args.i64());
  const double a = args.num(), b = args.num();
  const double seed = args.num(), offset = args.num();
  const uint64_t s = static_cast<uint64_t>(seed);
  const uint32_t k1 = hash32_host(static_cast<uint32_t>(s) ^ 0x9e3779b9u);
  const uint32_t k2 = hash32_host(static_cast<uint32_t>(s >> 32) ^ k1 ^ 0x85ebca6bu);
  double t = std::floor(a * 4294967296.0);
  const uint64_t threshold = !(t > 0) ? 0 : static_cast<uint64_t>(t > 4294967296.0 ? 4294967296.0 : t);
  const int64_t n = out.numel();
  if (n == 0) return;
  random_kernel<<<blocks_for(n, kThreads), kThreads, 0, stream()>>>(out, kind, a, b, k1, k2, static_cast<uint64_t>(offset), threshold, n);
  check_launch("random");
}

void k_unary(Args& args) {
  const int op = static_cast<int>(args.i64());
  View x = args.view();
  View out = args.view();
  same_shape("unary", x, out, "x", "out");
  const int64_t n = out.numel();
  if (n == 0) return;
  if (try_dense_map<1>({&x}, out, UnaryF{op})) return check_launch("unary");
  if (wide(x.dtype)) unary_kernel<double><<<blocks_for(n, kThreads), kThreads, 0, stream()>>>(op, x, out, n);
  else unary_kernel<float><<<blocks_for(n, kThreads), kThreads, 0, stream()>>>(op, x, out, n);
  check_launch("unary");
}

void k_unary_grad(Args& args) {
  const int op = static_cast<int>(args.i64());
  View x = args.view();
  View dy = args.view();
  View out = args.view();
  same_shape("unaryGrad", x, out, "x", "out");
  same_shape("unaryGrad", dy, out, "dy", "out");
  const int64_t n = out.numel();
  if (n == 0) return;
  if (try_dense_map<2>({&x, &dy}, out, UnaryGradF{op})) return check_launch("unaryGrad");
  if (wide(x.dtype)) unary_grad_kernel<double><<<blocks_for(n, kThreads), kThreads, 0, stream()>>>(op, x, dy, out, n);
  else unary_grad_kernel<float><<<blocks_for(n, kThreads), kThreads, 0, stream()>>>(op, x, dy, out, n);
  check_launch("unaryGrad");
}

void k_binary(Args& args) {
  const int op = static_cast<int>(args.i64());
  View a = args.view();
  View b = args.view();
  View out = args.view();
  same_shape("binary", a, out, "a", "out");
  same_shape("binary", b, out, "b", "out");
  const int64_t n = out.numel();
  if (n == 0) return;
  if (try_dense_map<2>({&a, &b}, out, BinaryF{op})) return check_launch("binary");
  if (wide(out.dtype)) binary_kernel<double><<<blocks_for(n, kThreads), kThreads, 0, stream()>>>(op, a, b, out, n);
  else binary_kernel<float><<<blocks_for(n, kThreads), kThreads, 0, stream()>>>(op, a, b, out, n);
  check_launch("binary");
}

void k_compare(Args& args) {
  const int op = static_cast<int>(args.i64());
  View a = args.view();
  View b = args.view();
  View out = args.view();
  same_shape("compare", a, out, "a", "out");
  same_shape("compare", b, out, "b", "out");
  const int64_t n = out.numel();
  if (n == 0) return;
  compare_kernel<<<blocks_for(n, kThreads), kThreads, 0, stream()>>>(op, a, b, out, n);
  check_launch("compare");
}

void k_scalar(Args& args) {
  const int op = static_cast<int>(args.i64());
  View x = args.view();
  const double s = args.num();
  View out = args.view();
  same_shape("scalar", x, out, "x", "out");
  const int64_t n = out.numel();
  if (n == 0) return;
  if (try_dense_map<1>({&x}, out, ScalarF{op, static_cast<float>(s)})) return check_launch("scalar");
  if (wide(out.dtype)) scalar_kernel<double><<<blocks_for(n, kThreads), kThreads, 0, stream()>>>(op, x, s, out, n);
  else scalar_kernel<float><<<blocks_for(n, kThreads), kThreads, 0, stream()>>>(op, x, static_cast<float>(s), out, n);
  check_launch("scalar");
}

void k_where(Args& args) {
  View cond = args.view();
  View a = args.view();
  View b = args.view();
  View out = args.view();
  same_shape("where", cond, out, "cond", "out");
  const int64_t n = out.numel();
  if (n == 0) return;
  const unsigned blocks = blocks_for(n, kThreads);
  switch (item_size(out.dtype)) {
    case 1: where_kernel<uint8_t><<<blocks, kThreads, 0, stream()>>>(cond, a, b, out, n); break;
    case 2: where_kernel<uint16_t><<<blocks, kThreads, 0, stream()>>>(cond, a, b, out, n); break;
    case 4: where_kernel<uint32_t><<<blocks, kThreads, 0, stream()>>>(cond, a, b, out, n); break;
    default: where_kernel<uint64_t><<<blocks, kThreads, 0, stream()>>>(cond, a, b, out, n); break;
  }
  check_launch("where");
}

// Arguments: op, kept view (x's kept dims), reduced view (x's reduced dims, offset 0), out.
void k_reduce(Args& args) {
  const int op = static_cast<int>(args.i64());
  View kept = args.view();
  View red = args.view();
  View out = args.view();
  const int64_t outputs = kept.numel(), count = red.numel();
  if (outputs == 0) return;
  int threads = 32;
  while (threads < kThreads && threads < count) threads *= 2;
  const unsigned blocks = static_cast<unsigned>(outputs < (1LL << 30) ? outputs : (1LL << 30));
  const bool integer = !is_float(kept.dtype);
  if (integer) reduce_kernel<long long><<<blocks, threads, 0, stream()>>>(op, kept, red, out, outputs, count);
  else reduce_kernel<double><<<blocks, threads, 0, stream()>>>(op, kept, red, out, outputs, count);
  check_launch("reduce");
}

// Arguments: kept view (x with the axis left out), axis length, axis stride, out.
void k_argmax(Args& args) {
  View kept = args.view();
  const int64_t n = args.i64();
  const int64_t stride = args.i64();
  View out = args.view();
  const int64_t outputs = kept.numel();
  if (outputs == 0 || n == 0) return;
  argmax_kernel<<<blocks_for(outputs, kThreads), kThreads, 0, stream()>>>(kept, n, stride, out, outputs);
  check_launch("argmax");
}

}  // namespace lmcuda
