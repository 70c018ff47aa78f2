// Scaled dot-product attention with grouped-query heads, the FlashAttention algorithm: keys
// and values stream through shared memory in tiles, each query keeps a running maximum, sum
// and output (online softmax), so no (T, S) matrix exists at any point. The backward
// recomputes probabilities from the saved log-sum-exp, in two passes that need no atomics:
// one over query rows (dq), one over key rows (dk, dv), after delta = rowsum(dout * out).
//
// Two implementations. bf16/f16 with head dims 64 or 128 (every Llama-family model) run on
// tensor cores (attention_mma.cu). The kernels here cover every other case (head dims up to
// 256, f32, unaligned views): one thread per row with f32 registers and CUDA-core arithmetic.
#include "attention.cuh"
#include "device.cuh"
#include "ops.h"

namespace lmcuda {
namespace {

constexpr int kRows = 64;  // query (or key) rows per block, one per thread
__device__ __forceinline__ bool visible(const AttnDims& d, int64_t t, int64_t s, int qs, int ks) {
  if (d.causal && s > t + d.S - d.T) return false;
  if (d.has_seg && qs != ks) return false;
  return true;
}

// grid: (ceil(T / kRows), B * Hq); block: kRows threads.
template <int DMAX>
__global__ void attention_forward_kernel(View q, View k, View v, View out, float* lse, View qseg, View kseg, AttnDims d) {
  constexpr int BC = 4096 / DMAX;  // keys per tile: 32 KiB of shared memory for K and V
  __shared__ float ks[BC][DMAX];
  __shared__ float vs[BC][DMAX];
  __shared__ int kseg_s[BC];
  const int64_t b = blockIdx.y / d.Hq, h = blockIdx.y % d.Hq, hk = h / (d.Hq / d.Hkv);
  const int64_t t = blockIdx.x * static_cast<int64_t>(kRows) + threadIdx.x;
  const bool active = t < d.T;
  float qr[DMAX], acc[DMAX];
  const int64_t qo = active ? row_offset(q, b, t, h) : 0;
  for (int i = 0; i < DMAX; i++) {
    qr[i] = active && i < d.D ? load_as<float>(q.ptr, q.dtype, qo + i) * d.scale : 0.f;
    acc[i] = 0.f;
  }
  const int qs = active && d.has_seg ? seg_at(qseg, b, t) : 0;
  float m = -INFINITY, l = 0.f;
  // Causal: keys past the block's last query are never visible.
  const int64_t last_t = min(d.T - 1, blockIdx.x * static_cast<int64_t>(kRows) + kRows - 1);
  const int64_t s_end = d.causal ? min(d.S, last_t + d.S - d.T + 1) : d.S;
  for (int64_t s0 = 0; s0 < s_end; s0 += BC) {
    __syncthreads();
    for (int64_t e = threadIdx.x; e < BC * static_cast<int64_t>(DMAX); e += blockDim.x) {
      const int j = static_cast<int>(e / DMAX), i = static_cast<int>(e % DMAX);
      const int64_t s = s0 + j;
      const bool in = s < d.S && i < d.D;
      ks[j][i] = in ? load_as<float>(k.ptr, k.dtype, row_offset(k, b, s, hk) + i) : 0.f;
      vs[j][i] = in ? load_as<float>(v.ptr, v.dtype, row_offset(v, b, s, hk) + i) : 0.f;
    }
    for (int j = threadIdx.x; j < BC; j += blockDim.x) kseg_s[j] = d.has_seg && s0 + j < d.S ? seg_at(kseg, b, s0 + j) : 0;
    __syncthreads();
    if (!active) continue;
    const int jn = static_cast<int>(min(static_cast<int64_t>(BC), s_end - s0));
    for (int j = 0; j < jn; j++) {
      if (!visible(d, t, s0 + j, qs, kseg_s[j])) continue;
      float score = 0.f;
      for (int i = 0; i < DMAX; i++) score += qr[i] * ks[j][i];
      if (score > m) {
        const float c = expf(m - score);  // 0 when m is -inf
        l *= c;
        for (int i = 0; i < DMAX; i++) acc[i] *= c;
        m = score;
      }
      const float p = expf(score - m);
      l += p;
      for (int i = 0; i < DMAX; i++) acc[i] += p * vs[j][i];
    }
  }
  if (!active) return;
  const int64_t oo = ((b * d.T + t) * d.Hq + h) * d.D;
  const float inv = l > 0.f ? 1.f / l : 0.f;
  for (int i = 0; i < d.D && i < DMAX; i++) store_as<float>(out.ptr, out.dtype, out.offset + oo + i, acc[i] * inv);
  lse[(b * d.Hq + h) * d.T + t] = l > 0.f ? m + logf(l) : -INFINITY;
}

// delta[b, h, t] = sum_i dout[b, t, h, i] * out[b, t, h, i]
__global__ void attention_delta_kernel(View out, View dout, float* delta, AttnDims d) {
  const int64_t n = d.B * d.Hq * d.T;
  LMCUDA_FOR(r, n) {
    const int64_t t = r % d.T, h = (r / d.T) % d.Hq, b = r / (d.T * d.Hq);
    const int64_t o = ((b * d.T + t) * d.Hq + h) * d.D;
    float s = 0.f;
    for (int64_t i = 0; i < d.D; i++) s += load_as<float>(out.ptr, out.dtype, out.offset + o + i) * load_as<float>(dout.ptr, dout.dtype, dout.offset + o + i);
    delta[r] = s;
  }
}

// dq: one thread per query row, K and V tiles in shared memory.
template <int DMAX>
__global__ void attention_dq_kernel(View q, View k, View v, const float* lse, const float* delta, View dout, View dq, View qseg,
                                    View kseg, AttnDims d) {
  constexpr int BC = 4096 / DMAX;
  __shared__ float ks[BC][DMAX];
  __shared__ float vs[BC][DMAX];
  __shared__ int kseg_s[BC];
  const int64_t b = blockIdx.y / d.Hq, h = blockIdx.y % d.Hq, hk = h / (d.Hq / d.Hkv);
  const int64_t t = blockIdx.x * static_cast<int64_t>(kRows) + threadIdx.x;
  const bool active = t < d.T;
  float qr[DMAX], gr[DMAX], acc[DMAX];
  const int64_t qo = active ? row_offset(q, b, t, h) : 0;
  const int64_t go = ((b * d.T + t) * d.Hq + h) * d.D;
  for (int i = 0; i < DMAX; i++) {
    qr[i] = active && i < d.D ? load_as<float>(q.ptr, q.dtype, qo + i) * d.scale : 0.f;
    gr[i] = active && i < d.D ? load_as<float>(dout.ptr, dout.dtype, dout.offset + go + i) : 0.f;
    acc[i] = 0.f;
  }
  const int qs = active && d.has_seg ? seg_at(qseg, b, t) : 0;
  const float row_lse = active ? lse[(b * d.Hq + h) * d.T + t] : -INFINITY;
  const float row_delta = active ? delta[(b * d.Hq + h) * d.T + t] : 0.f;
  const int64_t last_t = min(d.T - 1, blockIdx.x * static_cast<int64_t>(kRows) + kRows - 1);
  const int64_t s_end = d.causal ? min(d.S, last_t + d.S - d.T + 1) : d.S;
  for (int64_t s0 = 0; s0 < s_end; s0 += BC) {
    __syncthreads();
    for (int64_t e = threadIdx.x; e < BC * static_cast<int64_t>(DMAX); e += blockDim.x) {
      const int j = static_cast<int>(e / DMAX), i = static_cast<int>(e % DMAX);
      const int64_t s = s0 + j;
      const bool in = s < d.S && i < d.D;
      ks[j][i] = in ? load_as<float>(k.ptr, k.dtype, row_offset(k, b, s, hk) + i) : 0.f;
      vs[j][i] = in ? load_as<float>(v.ptr, v.dtype, row_offset(v, b, s, hk) + i) : 0.f;
    }
    for (int j = threadIdx.x; j < BC; j += blockDim.x) kseg_s[j] = d.has_seg && s0 + j < d.S ? seg_at(kseg, b, s0 + j) : 0;
    __syncthreads();
    if (!active || row_lse == -INFINITY) continue;
    const int jn = static_cast<int>(min(static_cast<int64_t>(BC), s_end - s0));
    for (int j = 0; j < jn; j++) {
      if (!visible(d, t, s0 + j, qs, kseg_s[j])) continue;
      float score = 0.f, dp = 0.f;
      for (int i = 0; i < DMAX; i++) {
        score += qr[i] * ks[j][i];
        dp += gr[i] * vs[j][i];
      }
      const float ds = expf(score - row_lse) * (dp - row_delta) * d.scale;
      for (int i = 0; i < DMAX; i++) acc[i] += ds * ks[j][i];
    }
  }
  if (!active) return;
  for (int i = 0; i < d.D && i < DMAX; i++) store_as<float>(dq.ptr, dq.dtype, dq.offset + go + i, acc[i]);
}

// dk, dv: one thread per key row of a kv head, over every query head of its group; Q and dout
// tiles in shared memory.
template <int DMAX>
__global__ void attention_dkv_kernel(View q, View k, View v, const float* lse, const float* delta, View dout, View dk, View dv,
                                     View qseg, View kseg, AttnDims d) {
  constexpr int BR = 4096 / DMAX;
  __shared__ float qs_[BR][DMAX];
  __shared__ float gs[BR][DMAX];
  __shared__ float lse_s[BR];
  __shared__ float delta_s[BR];
  __shared__ int qseg_s[BR];
  const int64_t b = blockIdx.y / d.Hkv, hk = blockIdx.y % d.Hkv;
  const int64_t s = blockIdx.x * static_cast<int64_t>(kRows) + threadIdx.x;
  const bool active = s < d.S;
  float kr[DMAX], vr[DMAX], dka[DMAX], dva[DMAX];
  for (int i = 0; i < DMAX; i++) {
    kr[i] = active && i < d.D ? load_as<float>(k.ptr, k.dtype, row_offset(k, b, s, hk) + i) : 0.f;
    vr[i] = active && i < d.D ? load_as<float>(v.ptr, v.dtype, row_offset(v, b, s, hk) + i) : 0.f;
    dka[i] = 0.f;
    dva[i] = 0.f;
  }
  const int ks_ = active && d.has_seg ? seg_at(kseg, b, s) : 0;
  const int64_t group = d.Hq / d.Hkv;
  // Causal: queries before the block's first key minus (S - T) never see it.
  const int64_t first_s = blockIdx.x * static_cast<int64_t>(kRows);
  const int64_t t_begin = d.causal ? max(static_cast<int64_t>(0), first_s - (d.S - d.T)) : 0;
  for (int64_t g = 0; g < group; g++) {
    const int64_t h = hk * group + g;
    for (int64_t t0 = t_begin; t0 < d.T; t0 += BR) {
      __syncthreads();
      for (int64_t e = threadIdx.x; e < BR * static_cast<int64_t>(DMAX); e += blockDim.x) {
        const int j = static_cast<int>(e / DMAX), i = static_cast<int>(e % DMAX);
        const int64_t t = t0 + j;
        const bool in = t < d.T && i < d.D;
        qs_[j][i] = in ? load_as<float>(q.ptr, q.dtype, row_offset(q, b, t, h) + i) * d.scale : 0.f;
        gs[j][i] = in ? load_as<float>(dout.ptr, dout.dtype, dout.offset + ((b * d.T + t) * d.Hq + h) * d.D + i) : 0.f;
      }
      for (int j = threadIdx.x; j < BR; j += blockDim.x) {
        const int64_t t = t0 + j;
        lse_s[j] = t < d.T ? lse[(b * d.Hq + h) * d.T + t] : -INFINITY;
        delta_s[j] = t < d.T ? delta[(b * d.Hq + h) * d.T + t] : 0.f;
        qseg_s[j] = d.has_seg && t < d.T ? seg_at(qseg, b, t) : 0;
      }
      __syncthreads();
      if (!active) continue;
      const int jn = static_cast<int>(min(static_cast<int64_t>(BR), d.T - t0));
      for (int j = 0; j < jn; j++) {
        if (lse_s[j] == -INFINITY || !visible(d, t0 + j, s, qseg_s[j], ks_)) continue;
        float score = 0.f, dp = 0.f;
        for (int i = 0; i < DMAX; i++) {
          score += qs_[j][i] * kr[i];
          dp += gs[j][i] * vr[i];
        }
        const float p = expf(score - lse_s[j]);
        const float ds = p * (dp - delta_s[j]);  // times scale, already folded into qs_
        for (int i = 0; i < DMAX; i++) {
          dva[i] += p * gs[j][i];
          dka[i] += ds * qs_[j][i];
        }
      }
    }
  }
  if (!active) return;
  const int64_t o = ((b * d.S + s) * d.Hkv + hk) * d.D;
  for (int i = 0; i < d.D && i < DMAX; i++) {
    store_as<float>(dk.ptr, dk.dtype, dk.offset + o + i, dka[i]);
    store_as<float>(dv.ptr, dv.dtype, dv.offset + o + i, dva[i]);
  }
}

AttnDims dims_of(const char* op, const View& q, const View& k, const View& v, float scale, bool causal, bool has_seg) {
  if (q.ndim != 4 || k.ndim != 4 || v.ndim != 4) fail(std::string(op) + ": q, k, v must be (B, T, H, D), got " + q.describe() + ", " + k.describe() + ", " + v.describe());
  AttnDims d{q.shape[0], q.shape[1], k.shape[1], q.shape[2], k.shape[2], q.shape[3], scale, causal ? 1 : 0, has_seg ? 1 : 0};
  if (k.shape[0] != d.B || k.shape[3] != d.D || d.Hkv == 0 || d.Hq % d.Hkv != 0) {
    fail(std::string(op) + ": k " + k.describe() + " and v " + v.describe() + " must be (B, S, Hkv, D) for q " + q.describe() + ", with Hq a multiple of Hkv");
  }
  for (const View* x : {&q, &k, &v}) {
    if (x->dtype != F32 && x->dtype != BF16 && x->dtype != F16) {
      fail(std::string(op) + ": q, k and v must be f32, bf16 or f16 on the cuda backend, got " + x->describe() + (x->dtype == F64 ? " (f64 runs on the reference backend)" : ""));
    }
    if (x->strides[3] != 1) fail(std::string(op) + ": q, k and v need a contiguous last dimension (internal error)");
  }
  if (d.D > 256) fail(std::string(op) + ": head dimension " + std::to_string(d.D) + " is above the 256 the cuda kernels support");
  return d;
}

template <typename F>
void by_head_dim(int64_t D, F&& f) {
  if (D <= 64) f(std::integral_constant<int, 64>{});
  else if (D <= 128) f(std::integral_constant<int, 128>{});
  else f(std::integral_constant<int, 256>{});
}

}  // namespace

// Arguments: q, k, v, out, lse, scale, causal, qSegments|null, kSegments|null.
void k_attention(Args& args) {
  View q = args.view(), k = args.view(), v = args.view(), out = args.view(), lse = args.view();
  const float scale = static_cast<float>(args.num());
  const bool causal = args.flag();
  View qseg{}, kseg{};
  const bool has_q = args.view_or_null(&qseg);
  const bool has_k = args.view_or_null(&kseg);
  const AttnDims d = dims_of("attention", q, k, v, scale, causal, has_q && has_k);
  if (d.B * d.T * d.Hq == 0) return;
  float* lse_p = reinterpret_cast<float*>(lse.data());
  if (attention_forward_mma(q, k, v, out, lse_p, qseg, kseg, d)) return;
  const dim3 grid(static_cast<unsigned>((d.T + kRows - 1) / kRows), static_cast<unsigned>(d.B * d.Hq));
  by_head_dim(d.D, [&](auto dm) {
    attention_forward_kernel<decltype(dm)::value><<<grid, kRows, 0, stream()>>>(q, k, v, out, lse_p, qseg, kseg, d);
  });
  check_launch("attention");
}

// Arguments: q, k, v, out, lse, dout, dq, dk, dv, scale, causal, qSegments|null, kSegments|null.
void k_attention_grad(Args& args) {
  View q = args.view(), k = args.view(), v = args.view(), out = args.view(), lse = args.view(), dout = args.view();
  View dq = args.view(), dk = args.view(), dv = args.view();
  const float scale = static_cast<float>(args.num());
  const bool causal = args.flag();
  View qseg{}, kseg{};
  const bool has_q = args.view_or_null(&qseg);
  const bool has_k = args.view_or_null(&kseg);
  const AttnDims d = dims_of("attentionGrad", q, k, v, scale, causal, has_q && has_k);
  if (d.B * d.Hkv * d.S == 0 && d.B * d.T * d.Hq == 0) return;
  const float* lse_p = reinterpret_cast<const float*>(lse.data());
  if (attention_backward_mma(q, k, v, out, lse_p, dout, dq, dk, dv, qseg, kseg, d)) return;
  float* delta = nullptr;
  const int64_t rows = d.B * d.Hq * d.T;
  check(cudaMallocAsync(reinterpret_cast<void**>(&delta), static_cast<size_t>(rows > 0 ? rows : 1) * sizeof(float), stream()), "attentionGrad",
        "cudaMallocAsync (delta)");
  if (rows > 0) attention_delta_kernel<<<blocks_for(rows, 256), 256, 0, stream()>>>(out, dout, delta, d);
  check_launch("attentionGrad (delta)");
  by_head_dim(d.D, [&](auto dm) {
    constexpr int DM = decltype(dm)::value;
    if (rows > 0) {
      const dim3 gq(static_cast<unsigned>((d.T + kRows - 1) / kRows), static_cast<unsigned>(d.B * d.Hq));
      attention_dq_kernel<DM><<<gq, kRows, 0, stream()>>>(q, k, v, lse_p, delta, dout, dq, qseg, kseg, d);
    }
    if (d.S > 0) {
      const dim3 gk(static_cast<unsigned>((d.S + kRows - 1) / kRows), static_cast<unsigned>(d.B * d.Hkv));
      attention_dkv_kernel<DM><<<gk, kRows, 0, stream()>>>(q, k, v, lse_p, delta, dout, dk, dv, qseg, kseg, d);
    }
  });
  check_launch("attentionGrad");
  check(cudaFreeAsync(delta, stream()), "attentionGrad", "cudaFreeAsync (delta)");
}

}  // namespace lmcuda
