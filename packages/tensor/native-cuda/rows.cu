// Row kernels, one thread block per row of the last dimension: softmax (with the causal mask)
// and log-softmax with their gradients, rms_norm and layer_norm with theirs, rotary
// embeddings, and cross-entropy fused with log-softmax over the vocabulary: the loss reads
// bf16/f16 logits directly and keeps only f32 statistics per row (losses and lse), never an
// f32 copy of the logits.
#include "dense.cuh"
#include "device.cuh"
#include "ops.h"

namespace lmcuda {
namespace {

constexpr int kRowThreads = 256;

void require_floating(const char* op, const View& v, const char* role) {
  if (v.dtype != F32 && v.dtype != BF16 && v.dtype != F16) {
    fail(std::string(op) + ": " + role + " must be f32, bf16 or f16 on the cuda backend, got " + v.describe() +
         (v.dtype == F64 ? " (f64 runs on the reference backend)" : ""));
  }
}
void require_contiguous(const char* op, const View& v, const char* role) {
  if (!v.contiguous()) fail(std::string(op) + ": " + role + " " + v.describe() + " must be contiguous (internal error: the op layer makes it so)");
}
int64_t last_dim(const View& v) { return v.ndim ? v.shape[v.ndim - 1] : 1; }
int64_t rows_of(const View& v) {
  const int64_t n = last_dim(v);
  return n == 0 ? 0 : v.numel() / n;
}
unsigned grid_rows(int64_t rows) { return static_cast<unsigned>(rows < (1LL << 30) ? rows : (1LL << 30)); }

// ---- softmax -------------------------------------------------------------------------------

__global__ void softmax_kernel(View x, View out, float scale, int causal, int64_t rows, int64_t n, int64_t tq) {
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const char* xp = x.data();
    const int64_t base = r * n;
    const int64_t valid = causal ? min(n, (r % tq) + n - tq + 1) : n;
    float m = -INFINITY;
    for (int64_t i = threadIdx.x; i < valid; i += blockDim.x) m = fmaxf(m, scale * load_as<float>(xp, x.dtype, base + i));
    m = block_max(m);
    float s = 0;
    for (int64_t i = threadIdx.x; i < valid; i += blockDim.x) s += expf(scale * load_as<float>(xp, x.dtype, base + i) - m);
    s = block_sum(s);
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
      const float p = i < valid ? expf(scale * load_as<float>(xp, x.dtype, base + i) - m) / s : 0.f;
      store_as<float>(out.data(), out.dtype, base + i, p);
    }
  }
}

__global__ void softmax_grad_kernel(View y, View dy, View out, float scale, int64_t rows, int64_t n) {
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const int64_t base = r * n;
    float dot = 0;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) dot += load_as<float>(y.data(), y.dtype, base + i) * load_as<float>(dy.data(), dy.dtype, base + i);
    dot = block_sum(dot);
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
      const float yv = load_as<float>(y.data(), y.dtype, base + i);
      store_as<float>(out.data(), out.dtype, base + i, scale * yv * (load_as<float>(dy.data(), dy.dtype, base + i) - dot));
    }
  }
}

__global__ void log_softmax_kernel(View x, View out, int64_t rows, int64_t n) {
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const int64_t base = r * n;
    float m = -INFINITY;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) m = fmaxf(m, load_as<float>(x.data(), x.dtype, base + i));
    m = block_max(m);
    float s = 0;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) s += expf(load_as<float>(x.data(), x.dtype, base + i) - m);
    s = block_sum(s);
    const float lse = m + logf(s);
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) store_as<float>(out.data(), out.dtype, base + i, load_as<float>(x.data(), x.dtype, base + i) - lse);
  }
}

__global__ void log_softmax_grad_kernel(View y, View dy, View out, int64_t rows, int64_t n) {
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const int64_t base = r * n;
    float sum = 0;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) sum += load_as<float>(dy.data(), dy.dtype, base + i);
    sum = block_sum(sum);
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
      const float g = load_as<float>(dy.data(), dy.dtype, base + i) - expf(load_as<float>(y.data(), y.dtype, base + i)) * sum;
      store_as<float>(out.data(), out.dtype, base + i, g);
    }
  }
}

// ---- norms -----------------------------------------------------------------------------------

// v rounded to dtype's precision and back (Llama rounds the normalised value before scaling).
__device__ __forceinline__ float round_to(int dt, float v) {
  if (dt == BF16) return __bfloat162float(__float2bfloat16_rn(v));
  if (dt == F16) return __half2float(__float2half_rn(v));
  return v;
}

__global__ void rms_norm_kernel(View x, View w, int has_w, float eps, View out, float* rstd, int64_t rows, int64_t n) {
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const int64_t base = r * n;
    float ss = 0;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
      const float v = load_as<float>(x.data(), x.dtype, base + i);
      ss += v * v;
    }
    ss = block_sum(ss);
    const float rs = rsqrtf(ss / n + eps);
    if (threadIdx.x == 0) rstd[r] = rs;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
      const float normed = round_to(x.dtype, load_as<float>(x.data(), x.dtype, base + i) * rs);
      store_as<float>(out.data(), out.dtype, base + i, has_w ? normed * load_as<float>(w.data(), w.dtype, i) : normed);
    }
  }
}

__global__ void rms_norm_grad_kernel(View x, View w, int has_w, const float* rstd, View dy, View dx, int64_t rows, int64_t n) {
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const int64_t base = r * n;
    const float rs = rstd[r];
    float c = 0;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
      const float wv = has_w ? load_as<float>(w.data(), w.dtype, i) : 1.f;
      c += load_as<float>(dy.data(), dy.dtype, base + i) * wv * load_as<float>(x.data(), x.dtype, base + i) * rs;
    }
    c = block_sum(c) / n;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
      const float wv = has_w ? load_as<float>(w.data(), w.dtype, i) : 1.f;
      const float normed = load_as<float>(x.data(), x.dtype, base + i) * rs;
      store_as<float>(dx.data(), dx.dtype, base + i, rs * (load_as<float>(dy.data(), dy.dtype, base + i) * wv - normed * c));
    }
  }
}

// The fast path of rms_norm and its input gradient: contiguous 16-byte-aligned rows where x,
// the weight and the outputs share one float type E and a row is at most NV 16-byte vectors per
// thread. Each thread loads its vectors once into registers; the general kernels above read x
// twice, element by element, through runtime dtype switches (about 10x below the memory
// bandwidth on the rows of a training step).
template <typename E, int NV>
__device__ __forceinline__ void load_row(const E* row, int nv, float (&f)[NV][16 / sizeof(E)]) {
  constexpr int V = 16 / sizeof(E);
#pragma unroll
  for (int k = 0; k < NV; k++) {
    const int i = threadIdx.x + k * blockDim.x;
    uint4 u = make_uint4(0, 0, 0, 0);
    if (i < nv) u = reinterpret_cast<const uint4*>(row)[i];
    const E* e = reinterpret_cast<const E*>(&u);
#pragma unroll
    for (int j = 0; j < V; j++) f[k][j] = to_f32(e[j]);
  }
}

// row[i] = value(k, j) for this thread's vectors k (element j of each), as load_row reads them.
template <typename E, int NV, typename F>
__device__ __forceinline__ void store_row(E* row, int nv, F&& value) {
  constexpr int V = 16 / sizeof(E);
#pragma unroll
  for (int k = 0; k < NV; k++) {
    const int i = threadIdx.x + k * blockDim.x;
    if (i >= nv) continue;
    uint4 u;
    E* e = reinterpret_cast<E*>(&u);
#pragma unroll
    for (int j = 0; j < V; j++) e[j] = from_f32<E>(value(k, j));
    reinterpret_cast<uint4*>(row)[i] = u;
  }
}

template <typename E, int NV>
__global__ void rms_norm_dense_kernel(const E* x, const E* w, int has_w, float eps, E* out, float* rstd, int64_t rows, int n) {
  constexpr int V = 16 / sizeof(E);
  const int nv = n / V;
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    float f[NV][V], wf[NV][V];
    load_row<E, NV>(x + r * n, nv, f);
    float ss = 0;
#pragma unroll
    for (int k = 0; k < NV; k++) {
#pragma unroll
      for (int j = 0; j < V; j++) ss += f[k][j] * f[k][j];
    }
    ss = block_sum(ss);
    const float rs = rsqrtf(ss / n + eps);
    if (threadIdx.x == 0) rstd[r] = rs;
    if (has_w) load_row<E, NV>(w, nv, wf);
    store_row<E, NV>(out + r * n, nv, [&](int k, int j) {
      const float normed = to_f32(from_f32<E>(f[k][j] * rs));  // rounded before scaling, as Llama
      return has_w ? normed * wf[k][j] : normed;
    });
  }
}

template <typename E, int NV>
__global__ void rms_norm_grad_dense_kernel(const E* x, const E* w, int has_w, const float* rstd, const E* dy, E* dx, int64_t rows, int n) {
  constexpr int V = 16 / sizeof(E);
  const int nv = n / V;
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    float f[NV][V], g[NV][V], wf[NV][V];
    load_row<E, NV>(x + r * n, nv, f);
    load_row<E, NV>(dy + r * n, nv, g);
    if (has_w) load_row<E, NV>(w, nv, wf);
    const float rs = rstd[r];
    float c = 0;
#pragma unroll
    for (int k = 0; k < NV; k++) {
#pragma unroll
      for (int j = 0; j < V; j++) c += g[k][j] * (has_w ? wf[k][j] : 1.f) * f[k][j] * rs;
    }
    c = block_sum(c) / n;
    store_row<E, NV>(dx + r * n, nv, [&](int k, int j) { return rs * (g[k][j] * (has_w ? wf[k][j] : 1.f) - f[k][j] * rs * c); });
  }
}

// Runs f(E{}, NV) where every view is a dense run of x's float type and a row of n elements
// fits the fast path; returns false (nothing done) otherwise.
template <typename F>
bool try_dense_rows(std::initializer_list<const View*> views, int64_t n, F&& f) {
  const int dt = (*views.begin())->dtype;
  if (dt != F32 && dt != BF16 && dt != F16) return false;
  for (const View* v : views) {
    if (!dense_run(*v, dt)) return false;
  }
  const int V = 16 / item_size(dt);
  if (n % V != 0) return false;
  const int64_t per_thread = (n / V + kRowThreads - 1) / kRowThreads;
  auto with_nv = [&](auto e) {
    if (per_thread <= 1) f(e, std::integral_constant<int, 1>{});
    else if (per_thread <= 2) f(e, std::integral_constant<int, 2>{});
    else f(e, std::integral_constant<int, 4>{});
  };
  if (per_thread > 4) return false;
  with_float_type(dt, with_nv);
  return true;
}

// dweight[i] = sum over rows of dy * round(normed): one thread per column, rows in order.
__global__ void rms_norm_dweight_kernel(View x, const float* rstd, View dy, View dw, int64_t rows, int64_t n) {
  LMCUDA_FOR(i, n) {
    float acc = 0;
    for (int64_t r = 0; r < rows; r++) {
      const float normed = round_to(x.dtype, load_as<float>(x.data(), x.dtype, r * n + i) * rstd[r]);
      acc += load_as<float>(dy.data(), dy.dtype, r * n + i) * normed;
    }
    store_as<float>(dw.data(), dw.dtype, i, acc);
  }
}

__global__ void layer_norm_kernel(View x, View w, int has_w, View b, int has_b, float eps, View out, float* mean, float* rstd,
                                  int64_t rows, int64_t n) {
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const int64_t base = r * n;
    float s = 0;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) s += load_as<float>(x.data(), x.dtype, base + i);
    const float mu = block_sum(s) / n;
    float v = 0;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
      const float d = load_as<float>(x.data(), x.dtype, base + i) - mu;
      v += d * d;
    }
    const float rs = rsqrtf(block_sum(v) / n + eps);
    if (threadIdx.x == 0) {
      mean[r] = mu;
      rstd[r] = rs;
    }
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
      float y = (load_as<float>(x.data(), x.dtype, base + i) - mu) * rs;
      if (has_w) y *= load_as<float>(w.data(), w.dtype, i);
      if (has_b) y += load_as<float>(b.data(), b.dtype, i);
      store_as<float>(out.data(), out.dtype, base + i, y);
    }
  }
}

__global__ void layer_norm_grad_kernel(View x, View w, int has_w, const float* mean, const float* rstd, View dy, View dx,
                                       int64_t rows, int64_t n) {
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const int64_t base = r * n;
    const float mu = mean[r], rs = rstd[r];
    float sg = 0, sgx = 0;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
      const float g = load_as<float>(dy.data(), dy.dtype, base + i) * (has_w ? load_as<float>(w.data(), w.dtype, i) : 1.f);
      sg += g;
      sgx += g * (load_as<float>(x.data(), x.dtype, base + i) - mu) * rs;
    }
    sg = block_sum(sg);
    sgx = block_sum(sgx);
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
      const float xh = (load_as<float>(x.data(), x.dtype, base + i) - mu) * rs;
      const float g = load_as<float>(dy.data(), dy.dtype, base + i) * (has_w ? load_as<float>(w.data(), w.dtype, i) : 1.f);
      store_as<float>(dx.data(), dx.dtype, base + i, rs * (g - sg / n - xh * sgx / n));
    }
  }
}

__global__ void layer_norm_dparams_kernel(View x, const float* mean, const float* rstd, View dy, View dw, int has_dw, View db,
                                          int has_db, int64_t rows, int64_t n) {
  LMCUDA_FOR(i, n) {
    float gw = 0, gb = 0;
    for (int64_t r = 0; r < rows; r++) {
      const float g = load_as<float>(dy.data(), dy.dtype, r * n + i);
      gw += g * (load_as<float>(x.data(), x.dtype, r * n + i) - mean[r]) * rstd[r];
      gb += g;
    }
    if (has_dw) store_as<float>(dw.data(), dw.dtype, i, gw);
    if (has_db) store_as<float>(db.data(), db.dtype, i, gb);
  }
}

// ---- rope ------------------------------------------------------------------------------------

// One thread per (b, t, i) rotation pair: the angle's cosine and sine (computed in double and
// rounded, as the reference backend does, which makes them the costly part) serve every head;
// x and out have any strides but a contiguous last dim.
__global__ void rope_kernel(View x, View pos, const float* inv_freq, View out, int interleaved, int inverse, float scale,
                            int64_t B, int64_t T, int64_t H, int64_t half) {
  const int64_t n = B * T * half;
  LMCUDA_FOR(j, n) {
    const int64_t i = j % half;
    const int64_t t = (j / half) % T;
    const int64_t b = j / (half * T);
    const float p = load_as<float>(pos.ptr, pos.dtype, pos.offset + b * pos.strides[0] + t * pos.strides[1]);
    // The angle is an f32 product, as Hugging Face computes it (position_ids.float() @ inv_freq).
    const float angle = __fmul_rn(p, inv_freq[i]);
    const float c = static_cast<float>(cos(static_cast<double>(angle))) * scale;
    float s = static_cast<float>(sin(static_cast<double>(angle))) * scale;
    if (inverse) s = -s;
    const int64_t i0 = interleaved ? 2 * i : i, i1 = interleaved ? 2 * i + 1 : i + half;
    int64_t xo = x.offset + b * x.strides[0] + t * x.strides[1];
    int64_t oo = out.offset + b * out.strides[0] + t * out.strides[1];
    for (int64_t h = 0; h < H; h++, xo += x.strides[2], oo += out.strides[2]) {
      const float a0 = load_as<float>(x.ptr, x.dtype, xo + i0), a1 = load_as<float>(x.ptr, x.dtype, xo + i1);
      store_as<float>(out.ptr, out.dtype, oo + i0, a0 * c - a1 * s);
      store_as<float>(out.ptr, out.dtype, oo + i1, a1 * c + a0 * s);
    }
  }
}

// ---- cross-entropy -----------------------------------------------------------------------------

__global__ void cross_entropy_kernel(View logits, View targets, float* losses, float* lse_out, long long ignore, float smoothing,
                                     int64_t rows, int64_t V, DeviceError* err) {
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const char* xp = logits.data();
    const int64_t base = r * V;
    float m = -INFINITY;
    for (int64_t i = threadIdx.x; i < V; i += blockDim.x) m = fmaxf(m, load_as<float>(xp, logits.dtype, base + i));
    m = block_max(m);
    float s = 0, total = 0;
    for (int64_t i = threadIdx.x; i < V; i += blockDim.x) {
      const float v = load_as<float>(xp, logits.dtype, base + i);
      s += expf(v - m);
      total += v;
    }
    s = block_sum(s);
    total = block_sum(total);
    if (threadIdx.x == 0) {
      const float lse = m + logf(s);
      lse_out[r] = lse;
      const long long t = load_as<long long>(targets.ptr, targets.dtype, targets.offset + r * targets.strides[0]);
      float loss = 0;
      if (t != ignore) {
        if (t < 0 || t >= V) {
          report_error(err, kErrCrossEntropy, t, r, V);
        } else {
          const float nll = lse - load_as<float>(xp, logits.dtype, base + t);
          // PyTorch's label smoothing: the target distribution puts e / V on every class.
          loss = (1.f - smoothing) * nll + smoothing * (lse - total / V);
        }
      }
      losses[r] = loss;
    }
  }
}

__global__ void cross_entropy_grad_kernel(View logits, View targets, const float* lse, View dlosses, View dlogits, long long ignore,
                                          float smoothing, int64_t rows, int64_t V) {
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const int64_t base = r * V;
    const long long t = load_as<long long>(targets.ptr, targets.dtype, targets.offset + r * targets.strides[0]);
    const bool skip = t == ignore || t < 0 || t >= V;
    const float dl = skip ? 0.f : load_as<float>(dlosses.ptr, dlosses.dtype, dlosses.offset + r * dlosses.strides[0]);
    const float l = lse[r];
    for (int64_t i = threadIdx.x; i < V; i += blockDim.x) {
      float g = 0;
      if (!skip) {
        const float target = (i == t ? 1.f - smoothing : 0.f) + smoothing / V;
        g = (expf(load_as<float>(logits.data(), logits.dtype, base + i) - l) - target) * dl;
      }
      store_as<float>(dlogits.data(), dlogits.dtype, base + i, g);
    }
  }
}

}  // namespace

void k_softmax(Args& args) {
  View x = args.view(), out = args.view();
  const float scale = static_cast<float>(args.num());
  const bool causal = args.flag();
  require_floating("softmax", x, "x");
  require_contiguous("softmax", x, "x");
  const int64_t rows = rows_of(x), n = last_dim(x);
  const int64_t tq = x.ndim >= 2 ? x.shape[x.ndim - 2] : 1;
  if (rows == 0) return;
  softmax_kernel<<<grid_rows(rows), kRowThreads, 0, stream()>>>(x, out, scale, causal, rows, n, causal ? tq : 1);
  check_launch("softmax");
}

void k_softmax_grad(Args& args) {
  View y = args.view(), dy = args.view(), out = args.view();
  const float scale = static_cast<float>(args.num());
  require_floating("softmaxGrad", y, "y");
  const int64_t rows = rows_of(y);
  if (rows == 0) return;
  softmax_grad_kernel<<<grid_rows(rows), kRowThreads, 0, stream()>>>(y, dy, out, scale, rows, last_dim(y));
  check_launch("softmaxGrad");
}

void k_log_softmax(Args& args) {
  View x = args.view(), out = args.view();
  require_floating("logSoftmax", x, "x");
  const int64_t rows = rows_of(x);
  if (rows == 0) return;
  log_softmax_kernel<<<grid_rows(rows), kRowThreads, 0, stream()>>>(x, out, rows, last_dim(x));
  check_launch("logSoftmax");
}

void k_log_softmax_grad(Args& args) {
  View y = args.view(), dy = args.view(), out = args.view();
  require_floating("logSoftmaxGrad", y, "y");
  const int64_t rows = rows_of(y);
  if (rows == 0) return;
  log_softmax_grad_kernel<<<grid_rows(rows), kRowThreads, 0, stream()>>>(y, dy, out, rows, last_dim(y));
  check_launch("logSoftmaxGrad");
}

void k_rms_norm(Args& args) {
  View x = args.view();
  View w{};
  const bool has_w = args.view_or_null(&w);
  const float eps = static_cast<float>(args.num());
  View out = args.view(), rstd = args.view();
  require_floating("rmsNorm", x, "x");
  const int64_t n = last_dim(x), rows = rows_of(x);
  if (has_w && (w.ndim != 1 || w.shape[0] != n)) {
    fail("rmsNorm: weight must have shape [" + std::to_string(n) + "] (the last dimension of x " + x.describe() + "), got " + w.describe());
  }
  if (rows == 0) return;
  float* rs = reinterpret_cast<float*>(rstd.data());
  const bool dense = try_dense_rows(has_w ? std::initializer_list<const View*>{&x, &w, &out} : std::initializer_list<const View*>{&x, &out}, n,
                                    [&](auto e, auto nv) {
                                      using E = decltype(e);
                                      rms_norm_dense_kernel<E, decltype(nv)::value><<<grid_rows(rows), kRowThreads, 0, stream()>>>(
                                          reinterpret_cast<const E*>(x.data()), has_w ? reinterpret_cast<const E*>(w.data()) : nullptr, has_w, eps,
                                          reinterpret_cast<E*>(out.data()), rs, rows, static_cast<int>(n));
                                    });
  if (!dense) rms_norm_kernel<<<grid_rows(rows), kRowThreads, 0, stream()>>>(x, w, has_w, eps, out, rs, rows, n);
  check_launch("rmsNorm");
}

void k_rms_norm_grad(Args& args) {
  View x = args.view();
  View w{};
  const bool has_w = args.view_or_null(&w);
  View rstd = args.view(), dy = args.view(), dx = args.view();
  View dw{};
  const bool has_dw = args.view_or_null(&dw);
  const int64_t n = last_dim(x), rows = rows_of(x);
  if (rows == 0) return;
  const float* rs = reinterpret_cast<const float*>(rstd.data());
  const bool dense = try_dense_rows(has_w ? std::initializer_list<const View*>{&x, &w, &dy, &dx} : std::initializer_list<const View*>{&x, &dy, &dx}, n,
                                    [&](auto e, auto nv) {
                                      using E = decltype(e);
                                      rms_norm_grad_dense_kernel<E, decltype(nv)::value><<<grid_rows(rows), kRowThreads, 0, stream()>>>(
                                          reinterpret_cast<const E*>(x.data()), has_w ? reinterpret_cast<const E*>(w.data()) : nullptr, has_w, rs,
                                          reinterpret_cast<const E*>(dy.data()), reinterpret_cast<E*>(dx.data()), rows, static_cast<int>(n));
                                    });
  if (!dense) rms_norm_grad_kernel<<<grid_rows(rows), kRowThreads, 0, stream()>>>(x, w, has_w, rs, dy, dx, rows, n);
  check_launch("rmsNormGrad");
  if (has_dw) {
    rms_norm_dweight_kernel<<<blocks_for(n, kRowThreads), kRowThreads, 0, stream()>>>(x, rs, dy, dw, rows, n);
    check_launch("rmsNormGrad (dweight)");
  }
}

void k_layer_norm(Args& args) {
  View x = args.view();
  View w{}, b{};
  const bool has_w = args.view_or_null(&w);
  const bool has_b = args.view_or_null(&b);
  const float eps = static_cast<float>(args.num());
  View out = args.view(), mean = args.view(), rstd = args.view();
  require_floating("layerNorm", x, "x");
  const int64_t n = last_dim(x), rows = rows_of(x);
  if (rows == 0) return;
  layer_norm_kernel<<<grid_rows(rows), kRowThreads, 0, stream()>>>(x, w, has_w, b, has_b, eps, out, reinterpret_cast<float*>(mean.data()),
                                                                   reinterpret_cast<float*>(rstd.data()), rows, n);
  check_launch("layerNorm");
}

void k_layer_norm_grad(Args& args) {
  View x = args.view();
  View w{};
  const bool has_w = args.view_or_null(&w);
  View mean = args.view(), rstd = args.view(), dy = args.view(), dx = args.view();
  View dw{}, db{};
  const bool has_dw = args.view_or_null(&dw);
  const bool has_db = args.view_or_null(&db);
  const int64_t n = last_dim(x), rows = rows_of(x);
  if (rows == 0) return;
  const float* mu = reinterpret_cast<const float*>(mean.data());
  const float* rs = reinterpret_cast<const float*>(rstd.data());
  layer_norm_grad_kernel<<<grid_rows(rows), kRowThreads, 0, stream()>>>(x, w, has_w, mu, rs, dy, dx, rows, n);
  check_launch("layerNormGrad");
  if (has_dw || has_db) {
    layer_norm_dparams_kernel<<<blocks_for(n, kRowThreads), kRowThreads, 0, stream()>>>(x, mu, rs, dy, dw, has_dw, db, has_db, rows, n);
    check_launch("layerNormGrad (dweight, dbias)");
  }
}

void k_rope(Args& args) {
  View x = args.view(), pos = args.view(), inv = args.view(), out = args.view();
  const bool interleaved = args.flag(), inverse = args.flag();
  const float scale = static_cast<float>(args.num());
  require_floating("rope", x, "x");
  if (x.ndim != 4) fail("rope: x must be (B, T, H, D), got " + x.describe());
  if (x.shape[3] % 2 != 0) fail("rope: the head dimension must be even, got " + x.describe());
  if (x.strides[3] != 1 || out.strides[3] != 1) fail("rope: x and out need a contiguous last dimension");
  if (inv.dtype != F32 || !inv.contiguous()) fail("rope: invFreq must be contiguous f32, got " + inv.describe());
  const int64_t B = x.shape[0], T = x.shape[1], H = x.shape[2], half = x.shape[3] / 2;
  const int64_t n = B * T * half;
  if (n == 0 || H == 0) return;
  rope_kernel<<<blocks_for(n, kRowThreads), kRowThreads, 0, stream()>>>(x, pos, reinterpret_cast<const float*>(inv.data()), out, interleaved,
                                                                        inverse, scale, B, T, H, half);
  check_launch("rope");
}

void k_cross_entropy(Args& args) {
  View logits = args.view(), targets = args.view(), losses = args.view(), lse = args.view();
  const long long ignore = args.i64();
  const float smoothing = static_cast<float>(args.num());
  require_floating("crossEntropy", logits, "logits");
  require_contiguous("crossEntropy", logits, "logits");
  if (logits.ndim != 2) fail("crossEntropy: logits must be (N, V), got " + logits.describe());
  const int64_t rows = logits.shape[0], V = logits.shape[1];
  if (rows == 0) return;
  const int threads = V >= 4096 ? 1024 : kRowThreads;
  cross_entropy_kernel<<<grid_rows(rows), threads, 0, stream()>>>(logits, targets, reinterpret_cast<float*>(losses.data()),
                                                                  reinterpret_cast<float*>(lse.data()), ignore, smoothing, rows, V,
                                                                  device_error_slot());
  check_launch("crossEntropy");
}

void k_cross_entropy_grad(Args& args) {
  View logits = args.view(), targets = args.view(), lse = args.view(), dlosses = args.view(), dlogits = args.view();
  const long long ignore = args.i64();
  const float smoothing = static_cast<float>(args.num());
  const int64_t rows = logits.shape[0], V = logits.shape[1];
  if (rows == 0) return;
  const int threads = V >= 4096 ? 1024 : kRowThreads;
  cross_entropy_grad_kernel<<<grid_rows(rows), threads, 0, stream()>>>(logits, targets, reinterpret_cast<const float*>(lse.data()), dlosses,
                                                                       dlogits, ignore, smoothing, rows, V);
  check_launch("crossEntropyGrad");
}

}  // namespace lmcuda
