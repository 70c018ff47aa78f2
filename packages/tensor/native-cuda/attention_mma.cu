// FlashAttention-2 on tensor cores (mma.sync, see mma.cuh) for bf16/f16 with head dims 64 and
// 128: forward, and a backward in two passes that need no atomics (dq over query tiles; dk, dv
// over key tiles). A block is 4 warps; each warp owns 16 rows and keeps its scores,
// probabilities and outputs in registers. The tiles it multiplies by (K, V in the forward and
// dq; Q, dO in dk/dv) stream through shared memory row-major, copied asynchronously (cp.async)
// into one buffer while the other is computed on; ldmatrix (.trans where a product reduces
// over the rows) reads them as fragments, so nothing is ever transposed in memory. Scores stay
// in f32; probabilities enter the second product rounded to the input type, as in
// FlashAttention. Rows padded by 8 halves make every ldmatrix free of bank conflicts.
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <type_traits>

#include "attention.cuh"
#include "device.cuh"
#include "mma.cuh"

namespace lmcuda {
namespace {

constexpr int kWarps = 4;
constexpr int kThreads = kWarps * 32;
constexpr int kTile = 64;  // query rows of a block (16 per warp); keys per tile
constexpr int kPad = 8;
constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;

template <typename T>
__device__ __forceinline__ const T* row_in(const View& v, int64_t b, int64_t t, int64_t h) {
  return reinterpret_cast<const T*>(v.ptr) + row_offset(v, b, t, h);
}
template <typename T>
__device__ __forceinline__ T* row_out(const View& v, int64_t b, int64_t t, int64_t h) {
  return reinterpret_cast<T*>(v.ptr) + row_offset(v, b, t, h);
}

template <typename T>
__device__ __forceinline__ float2 unpack_pair(const T* p);
template <>
__device__ __forceinline__ float2 unpack_pair<__nv_bfloat16>(const __nv_bfloat16* p) {
  return __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(p));
}
template <>
__device__ __forceinline__ float2 unpack_pair<__half>(const __half* p) {
  return __half22float2(*reinterpret_cast<const __half2*>(p));
}

// Queues the copy of rows t0..t0+ROWS-1 of head h (zeros past n) into dst (row stride D + kPad).
template <typename T, int D, int ROWS>
__device__ __forceinline__ void copy_rows_async(const View& x, int64_t b, int64_t h, int64_t t0, int64_t n, T* dst) {
  for (int e = threadIdx.x; e < ROWS * (D / 8); e += kThreads) {
    const int j = e / (D / 8), i8 = (e % (D / 8)) * 8;
    const int64_t t = t0 + j;
    const bool valid = t >= 0 && t < n;
    cp_async_16(dst + j * (D + kPad) + i8, valid ? row_in<T>(x, b, t, h) + i8 : reinterpret_cast<const T*>(x.ptr), valid);
  }
}

// Whether key s is visible from query t (segment ids qs, ks).
__device__ __forceinline__ bool sees(const AttnDims& d, int64_t t, int64_t s, int qs, int ks) {
  return t < d.T && s < d.S && (!d.causal || s <= t + d.S - d.T) && (!d.has_seg || qs == ks);
}

// A fragments of 16 rows (r0 and r0 + 8 for this lane) of a (B, T, H, D) view, straight from
// global memory; zeros for rows past T.
template <typename T, int KD>
__device__ __forceinline__ void load_rows_a(uint32_t f[KD][4], const View& x, int64_t b, int64_t h, const int64_t rows[2], int64_t T_, int c) {
  const T* p0 = rows[0] < T_ ? row_in<T>(x, b, rows[0], h) : nullptr;
  const T* p1 = rows[1] < T_ ? row_in<T>(x, b, rows[1], h) : nullptr;
#pragma unroll
  for (int kk = 0; kk < KD; kk++) {
    const int i = kk * 16 + 2 * c;
    f[kk][0] = p0 ? load_pair(p0 + i) : 0u;
    f[kk][1] = p1 ? load_pair(p1 + i) : 0u;
    f[kk][2] = p0 ? load_pair(p0 + i + 8) : 0u;
    f[kk][3] = p1 ? load_pair(p1 + i + 8) : 0u;
  }
}

// acc[0..NT) += A @ B over k0..k0+15, B(k, n) = X[n][k] (rows of X are the n index).
template <typename T, int NT>
__device__ __forceinline__ void mma_rows_n(float acc[][4], const uint32_t a[4], const T* x, int stride, int k0, int lane) {
#pragma unroll
  for (int j = 0; j < NT; j += 2) {
    uint32_t bb[4];
    ldsm_b_rows_n(bb, x, stride, j, k0, lane);
    mma_16816<T>(acc[j], a, bb[0], bb[1]);
    mma_16816<T>(acc[j + 1], a, bb[2], bb[3]);
  }
}
// acc[0..NT) += A @ B over k0..k0+15, B(k, n) = X[k][n] (rows of X are the k index).
template <typename T, int NT>
__device__ __forceinline__ void mma_rows_k(float acc[][4], const uint32_t a[4], const T* x, int stride, int k0, int lane) {
#pragma unroll
  for (int n = 0; n < NT; n += 2) {
    uint32_t bb[4];
    ldsm_b_rows_k(bb, x, stride, n, k0, lane);
    mma_16816<T>(acc[n], a, bb[0], bb[1]);
    mma_16816<T>(acc[n + 1], a, bb[2], bb[3]);
  }
}

template <int N>
__device__ __forceinline__ void zero(float acc[N][4]) {
#pragma unroll
  for (int j = 0; j < N; j++) acc[j][0] = acc[j][1] = acc[j][2] = acc[j][3] = 0.f;
}

template <int D>
constexpr size_t forward_smem(size_t item) {
  return 2 * 2 * kTile * (D + kPad) * item + 2 * kTile * sizeof(int);
}

// Queues key tile it (64 keys) of K and V, and its segment ids, into buffer it % 2.
template <typename T, int D>
__device__ __forceinline__ void issue_kv_tile(const View& k, const View& v, const View& kseg, const AttnDims& d, int64_t b, int64_t hk,
                                              int64_t it, T* kbuf, T* vbuf, int* kseg_buf) {
  constexpr int TILE = kTile * (D + kPad);
  const int buf = static_cast<int>(it & 1);
  const int64_t s0 = it * kTile;
  copy_rows_async<T, D, kTile>(k, b, hk, s0, d.S, kbuf + buf * TILE);
  copy_rows_async<T, D, kTile>(v, b, hk, s0, d.S, vbuf + buf * TILE);
  if (threadIdx.x < kTile) kseg_buf[buf * kTile + threadIdx.x] = d.has_seg && s0 + threadIdx.x < d.S ? seg_at(kseg, b, s0 + threadIdx.x) : 0;
  cp_async_commit();
}

// The double-buffered pipeline's step: queue tile it + 1 (if any) into the other buffer, then
// wait until tile it has landed and every thread sees it.
template <typename F>
__device__ __forceinline__ void next_tile(int64_t it, int64_t tiles, F&& issue) {
  if (it + 1 < tiles) {
    issue(it + 1);
    cp_async_wait<1>();
  } else {
    cp_async_wait<0>();
  }
  __syncthreads();
}

// grid: (ceil(T / 64), B * Hq), last query tile first (under a causal mask it has the most keys).
template <typename T, int D>
__global__ void __launch_bounds__(kThreads) attention_forward_mma_kernel(View q, View k, View v, View out, float* lse, View qseg,
                                                                         View kseg, AttnDims d) {
  constexpr int KS = D + kPad, KD = D / 16, ND = D / 8, TILE = kTile * KS;
  extern __shared__ __align__(16) unsigned char smem[];
  T* kbuf = reinterpret_cast<T*>(smem);
  T* vbuf = kbuf + 2 * TILE;
  int* kseg_buf = reinterpret_cast<int*>(vbuf + 2 * TILE);
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, c = lane & 3;
  const int64_t q0 = (gridDim.x - 1 - blockIdx.x) * static_cast<int64_t>(kTile);
  const int64_t b = blockIdx.y / d.Hq, h = blockIdx.y % d.Hq, hk = h / (d.Hq / d.Hkv);
  const int64_t rows[2] = {q0 + warp * 16 + g, q0 + warp * 16 + g + 8};
  const int64_t shift = d.S - d.T;
  const int64_t last_t = min(d.T - 1, q0 + kTile - 1);
  const int64_t s_end = d.causal ? min(d.S, last_t + shift + 1) : d.S;
  const int64_t tiles = s_end > 0 ? (s_end + kTile - 1) / kTile : 0;
  auto issue = [&](int64_t it) { issue_kv_tile<T, D>(k, v, kseg, d, b, hk, it, kbuf, vbuf, kseg_buf); };
  if (tiles > 0) issue(0);
  uint32_t qf[KD][4];
  load_rows_a<T, KD>(qf, q, b, h, rows, d.T, c);
  int qsg[2];
  for (int i = 0; i < 2; i++) qsg[i] = d.has_seg && rows[i] < d.T ? seg_at(qseg, b, rows[i]) : -1;
  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f};
  float o[ND][4];
  zero<ND>(o);
  const float sl = d.scale * kLog2e;  // scores in log2 units: exp2 instead of exp
  for (int64_t it = 0; it < tiles; it++) {
    next_tile(it, tiles, issue);
    const int buf = static_cast<int>(it & 1);
    const T* ks = kbuf + buf * TILE;
    const T* vs = vbuf + buf * TILE;
    const int* kseg_s = kseg_buf + buf * kTile;
    const int64_t s0 = it * kTile;
    float s[8][4];
    zero<8>(s);
#pragma unroll
    for (int kk = 0; kk < KD; kk++) mma_rows_n<T, 8>(s, qf[kk], ks, KS, kk * 16, lane);
    // Tiles wholly visible to every row of the block skip the per-element mask.
    const bool whole = !d.has_seg && s0 + kTile <= d.S && q0 + kTile <= d.T && (!d.causal || s0 + kTile - 1 <= q0 + shift);
    float mx[2] = {-INFINITY, -INFINITY};
#pragma unroll
    for (int j = 0; j < 8; j++) {
#pragma unroll
      for (int e = 0; e < 4; e++) {
        const int kj = j * 8 + 2 * c + (e & 1);
        const bool ok = whole || sees(d, rows[e >> 1], s0 + kj, qsg[e >> 1], kseg_s[kj]);
        s[j][e] = ok ? s[j][e] * sl : -INFINITY;
        mx[e >> 1] = fmaxf(mx[e >> 1], s[j][e]);
      }
    }
    float corr[2], base[2], rs[2] = {0.f, 0.f};
#pragma unroll
    for (int i = 0; i < 2; i++) {
      mx[i] = fmaxf(mx[i], __shfl_xor_sync(0xffffffffu, mx[i], 1));
      mx[i] = fmaxf(mx[i], __shfl_xor_sync(0xffffffffu, mx[i], 2));
      const float mn = fmaxf(m[i], mx[i]);
      base[i] = mn == -INFINITY ? 0.f : mn;  // a row that sees nothing yet keeps p = 0
      corr[i] = exp2f(m[i] - base[i]);
      m[i] = mn;
    }
#pragma unroll
    for (int j = 0; j < 8; j++) {
#pragma unroll
      for (int e = 0; e < 4; e++) {
        s[j][e] = exp2f(s[j][e] - base[e >> 1]);
        rs[e >> 1] += s[j][e];
      }
    }
    for (int i = 0; i < 2; i++) l[i] = l[i] * corr[i] + rs[i];
#pragma unroll
    for (int n = 0; n < ND; n++) {
      o[n][0] *= corr[0];
      o[n][1] *= corr[0];
      o[n][2] *= corr[1];
      o[n][3] *= corr[1];
    }
#pragma unroll
    for (int kk = 0; kk < kTile / 16; kk++) {
      uint32_t a[4];
      acc_to_a<T>(a, s[2 * kk], s[2 * kk + 1]);
      mma_rows_k<T, ND>(o, a, vs, KS, kk * 16, lane);
    }
    __syncthreads();  // the next issue overwrites this buffer
  }
  for (int i = 0; i < 2; i++) {
    l[i] += __shfl_xor_sync(0xffffffffu, l[i], 1);
    l[i] += __shfl_xor_sync(0xffffffffu, l[i], 2);
    if (rows[i] >= d.T) continue;
    const float inv = l[i] > 0.f ? 1.f / l[i] : 0.f;
    T* po = row_out<T>(out, b, rows[i], h);
#pragma unroll
    for (int n = 0; n < ND; n++) *reinterpret_cast<uint32_t*>(po + n * 8 + 2 * c) = pack_pair<T>(o[n][2 * i] * inv, o[n][2 * i + 1] * inv);
    if (c == 0) lse[(b * d.Hq + h) * d.T + rows[i]] = l[i] > 0.f ? m[i] * kLn2 + logf(l[i]) : -INFINITY;
  }
}

// delta[b, h, t] = sum_i dout[b, t, h, i] * out[b, t, h, i]: a warp per row.
template <typename T, int D>
__global__ void attention_delta_mma_kernel(View out, View dout, float* delta, AttnDims d) {
  const int lane = threadIdx.x & 31;
  const int64_t rows = d.B * d.T * d.Hq, warps = static_cast<int64_t>(gridDim.x) * (blockDim.x >> 5);
  for (int64_t r = blockIdx.x * static_cast<int64_t>(blockDim.x >> 5) + (threadIdx.x >> 5); r < rows; r += warps) {
    const int64_t h = r % d.Hq, t = (r / d.Hq) % d.T, b = r / (d.Hq * d.T);
    const T* po = row_in<T>(out, b, t, h);
    const T* pg = row_in<T>(dout, b, t, h);
    float s = 0.f;
    for (int i = lane * 2; i < D; i += 64) {
      const float2 x = unpack_pair(po + i), y = unpack_pair(pg + i);
      s += x.x * y.x + x.y * y.y;
    }
    s = warp_sum(s);
    if (lane == 0) delta[(b * d.Hq + h) * d.T + t] = s;
  }
}

template <int D>
constexpr size_t dq_smem(size_t item) {
  return forward_smem<D>(item);
}

// dq = scale * sum_s dS[t, s] k[s], dS = P * (dO v^T - delta). grid as the forward. K and V
// tiles stream through shared memory as in the forward (K serves Q K^T and dS K, V dO V^T).
template <typename T, int D>
__global__ void __launch_bounds__(kThreads) attention_dq_mma_kernel(View q, View k, View v, const float* lse, const float* delta,
                                                                    View dout, View dq, View qseg, View kseg, AttnDims d) {
  constexpr int KS = D + kPad, KD = D / 16, ND = D / 8, TILE = kTile * KS;
  extern __shared__ __align__(16) unsigned char smem[];
  T* kbuf = reinterpret_cast<T*>(smem);
  T* vbuf = kbuf + 2 * TILE;
  int* kseg_buf = reinterpret_cast<int*>(vbuf + 2 * TILE);
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, c = lane & 3;
  const int64_t q0 = (gridDim.x - 1 - blockIdx.x) * static_cast<int64_t>(kTile);
  const int64_t b = blockIdx.y / d.Hq, h = blockIdx.y % d.Hq, hk = h / (d.Hq / d.Hkv);
  const int64_t rows[2] = {q0 + warp * 16 + g, q0 + warp * 16 + g + 8};
  const int64_t shift = d.S - d.T;
  const int64_t last_t = min(d.T - 1, q0 + kTile - 1);
  const int64_t s_end = d.causal ? min(d.S, last_t + shift + 1) : d.S;
  const int64_t tiles = s_end > 0 ? (s_end + kTile - 1) / kTile : 0;
  auto issue = [&](int64_t it) { issue_kv_tile<T, D>(k, v, kseg, d, b, hk, it, kbuf, vbuf, kseg_buf); };
  if (tiles > 0) issue(0);
  uint32_t qf[KD][4], gf[KD][4];
  load_rows_a<T, KD>(qf, q, b, h, rows, d.T, c);
  load_rows_a<T, KD>(gf, dout, b, h, rows, d.T, c);
  int qsg[2];
  float lse2[2], dl[2];
  for (int i = 0; i < 2; i++) {
    const bool in = rows[i] < d.T;
    qsg[i] = d.has_seg && in ? seg_at(qseg, b, rows[i]) : -1;
    lse2[i] = in ? lse[(b * d.Hq + h) * d.T + rows[i]] * kLog2e : -INFINITY;
    dl[i] = in ? delta[(b * d.Hq + h) * d.T + rows[i]] : 0.f;
  }
  float acc[ND][4];
  zero<ND>(acc);
  const float sl = d.scale * kLog2e;
  for (int64_t it = 0; it < tiles; it++) {
    next_tile(it, tiles, issue);
    const int buf = static_cast<int>(it & 1);
    const T* ks = kbuf + buf * TILE;
    const T* vs = vbuf + buf * TILE;
    const int* kseg_s = kseg_buf + buf * kTile;
    const int64_t s0 = it * kTile;
    float s[8][4], dp[8][4];
    zero<8>(s);
    zero<8>(dp);
#pragma unroll
    for (int kk = 0; kk < KD; kk++) {
      mma_rows_n<T, 8>(s, qf[kk], ks, KS, kk * 16, lane);
      mma_rows_n<T, 8>(dp, gf[kk], vs, KS, kk * 16, lane);
    }
    const bool whole = !d.has_seg && s0 + kTile <= d.S && q0 + kTile <= d.T && (!d.causal || s0 + kTile - 1 <= q0 + shift);
#pragma unroll
    for (int j = 0; j < 8; j++) {
#pragma unroll
      for (int e = 0; e < 4; e++) {
        const int kj = j * 8 + 2 * c + (e & 1), i = e >> 1;
        const bool ok = lse2[i] != -INFINITY && (whole || sees(d, rows[i], s0 + kj, qsg[i], kseg_s[kj]));
        const float p = ok ? exp2f(s[j][e] * sl - lse2[i]) : 0.f;
        s[j][e] = p * (dp[j][e] - dl[i]);
      }
    }
#pragma unroll
    for (int kk = 0; kk < kTile / 16; kk++) {
      uint32_t a[4];
      acc_to_a<T>(a, s[2 * kk], s[2 * kk + 1]);
      mma_rows_k<T, ND>(acc, a, ks, KS, kk * 16, lane);
    }
    __syncthreads();
  }
  for (int i = 0; i < 2; i++) {
    if (rows[i] >= d.T) continue;
    T* pq = row_out<T>(dq, b, rows[i], h);
#pragma unroll
    for (int n = 0; n < ND; n++) *reinterpret_cast<uint32_t*>(pq + n * 8 + 2 * c) = pack_pair<T>(acc[n][2 * i] * d.scale, acc[n][2 * i + 1] * d.scale);
  }
}

template <int D, int BQ>
constexpr size_t dkv_smem(size_t item) {
  return (2 * kTile + 2 * 2 * BQ) * (D + kPad) * item + 2 * BQ * (2 * sizeof(float) + sizeof(int));
}

// dk = scale * sum_t dS[t, s] q[t], dv = sum_t P[t, s] dO[t], over every query head of the kv
// head's group. grid: (ceil(S / 64), B * Hkv). Each warp owns 16 keys and works on P^T and dS^T
// (keys x queries). The block's K and V stay in shared memory; Q and dO tiles of BQ queries
// stream through it (Q serves K Q^T and dS^T Q; dO serves V dO^T and P^T dO).
template <typename T, int D, int BQ>
__global__ void __launch_bounds__(kThreads) attention_dkv_mma_kernel(View q, View k, View v, const float* lse, const float* delta,
                                                                     View dout, View dk, View dv, View qseg, View kseg, AttnDims d) {
  constexpr int KS = D + kPad, KD = D / 16, ND = D / 8, NQ = BQ / 8, QTILE = BQ * KS;
  extern __shared__ __align__(16) unsigned char smem[];
  T* ks = reinterpret_cast<T*>(smem);
  T* vs = ks + kTile * KS;
  T* qbuf = vs + kTile * KS;
  T* gbuf = qbuf + 2 * QTILE;
  float* lse_buf = reinterpret_cast<float*>(gbuf + 2 * QTILE);
  float* delta_buf = lse_buf + 2 * BQ;
  int* qseg_buf = reinterpret_cast<int*>(delta_buf + 2 * BQ);
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, c = lane & 3;
  const int64_t s_first = blockIdx.x * static_cast<int64_t>(kTile);
  const int64_t b = blockIdx.y / d.Hkv, hk = blockIdx.y % d.Hkv;
  const int64_t keys[2] = {s_first + warp * 16 + g, s_first + warp * 16 + g + 8};
  const int64_t shift = d.S - d.T, group = d.Hq / d.Hkv;
  // Causal: queries before the block's first key minus (S - T) never see it.
  const int64_t t_begin = d.causal ? max(static_cast<int64_t>(0), s_first - shift) : 0;
  const int64_t per_head = t_begin < d.T ? (d.T - t_begin + BQ - 1) / BQ : 0;
  const int64_t tiles = per_head * group;
  copy_rows_async<T, D, kTile>(k, b, hk, s_first, d.S, ks);
  copy_rows_async<T, D, kTile>(v, b, hk, s_first, d.S, vs);
  auto issue = [&](int64_t it) {
    const int buf = static_cast<int>(it & 1);
    const int64_t h = hk * group + it / per_head, t0 = t_begin + (it % per_head) * BQ;
    copy_rows_async<T, D, BQ>(q, b, h, t0, d.T, qbuf + buf * QTILE);
    copy_rows_async<T, D, BQ>(dout, b, h, t0, d.T, gbuf + buf * QTILE);
    if (threadIdx.x < BQ) {
      const int64_t t = t0 + threadIdx.x;
      const bool in = t < d.T;
      lse_buf[buf * BQ + threadIdx.x] = in ? lse[(b * d.Hq + h) * d.T + t] * kLog2e : -INFINITY;
      delta_buf[buf * BQ + threadIdx.x] = in ? delta[(b * d.Hq + h) * d.T + t] : 0.f;
      qseg_buf[buf * BQ + threadIdx.x] = d.has_seg && in ? seg_at(qseg, b, t) : -2;
    }
    cp_async_commit();  // the first group carries K and V too
  };
  if (tiles > 0) issue(0);
  int ksg[2];
  for (int i = 0; i < 2; i++) ksg[i] = d.has_seg && keys[i] < d.S ? seg_at(kseg, b, keys[i]) : -1;
  float dka[ND][4], dva[ND][4];
  zero<ND>(dka);
  zero<ND>(dva);
  const float sl = d.scale * kLog2e;
  for (int64_t it = 0; it < tiles; it++) {
    next_tile(it, tiles, issue);
    const int buf = static_cast<int>(it & 1);
    const T* qs = qbuf + buf * QTILE;
    const T* gs = gbuf + buf * QTILE;
    const float* lse_s = lse_buf + buf * BQ;
    const float* delta_s = delta_buf + buf * BQ;
    const int* qseg_s = qseg_buf + buf * BQ;
    const int64_t t0 = t_begin + (it % per_head) * BQ;
    float st[NQ][4], dpt[NQ][4];
    zero<NQ>(st);
    zero<NQ>(dpt);
#pragma unroll
    for (int kk = 0; kk < KD; kk++) {
      uint32_t ak[4], av[4];
      ldsm_a(ak, ks, KS, warp * 16, kk * 16, lane);
      ldsm_a(av, vs, KS, warp * 16, kk * 16, lane);
      mma_rows_n<T, NQ>(st, ak, qs, KS, kk * 16, lane);
      mma_rows_n<T, NQ>(dpt, av, gs, KS, kk * 16, lane);
    }
    const bool whole = !d.has_seg && s_first + kTile <= d.S && t0 + BQ <= d.T && (!d.causal || s_first + kTile - 1 <= t0 + shift);
#pragma unroll
    for (int j = 0; j < NQ; j++) {
#pragma unroll
      for (int e = 0; e < 4; e++) {
        const int qj = j * 8 + 2 * c + (e & 1);
        const float l2 = lse_s[qj];
        const bool ok = l2 != -INFINITY && (whole || sees(d, t0 + qj, keys[e >> 1], qseg_s[qj], ksg[e >> 1]));
        const float p = ok ? exp2f(st[j][e] * sl - l2) : 0.f;
        st[j][e] = p;
        dpt[j][e] = p * (dpt[j][e] - delta_s[qj]);
      }
    }
#pragma unroll
    for (int kq = 0; kq < BQ / 16; kq++) {
      uint32_t ap[4], ads[4];
      acc_to_a<T>(ap, st[2 * kq], st[2 * kq + 1]);
      acc_to_a<T>(ads, dpt[2 * kq], dpt[2 * kq + 1]);
      mma_rows_k<T, ND>(dva, ap, gs, KS, kq * 16, lane);
      mma_rows_k<T, ND>(dka, ads, qs, KS, kq * 16, lane);
    }
    __syncthreads();
  }
  for (int i = 0; i < 2; i++) {
    if (keys[i] >= d.S) continue;
    T* pk = row_out<T>(dk, b, keys[i], hk);
    T* pv = row_out<T>(dv, b, keys[i], hk);
#pragma unroll
    for (int n = 0; n < ND; n++) {
      *reinterpret_cast<uint32_t*>(pk + n * 8 + 2 * c) = pack_pair<T>(dka[n][2 * i] * d.scale, dka[n][2 * i + 1] * d.scale);
      *reinterpret_cast<uint32_t*>(pv + n * 8 + 2 * c) = pack_pair<T>(dva[n][2 * i], dva[n][2 * i + 1]);
    }
  }
}

bool simple_requested() {
  static const bool simple = [] {
    const char* e = std::getenv("LMFLOW_CUDA_ATTENTION");
    return e != nullptr && std::strcmp(e, "simple") == 0;
  }();
  return simple;
}

// Rows start on 16-byte boundaries (8 halves) and the last dimension is dense.
bool rows_aligned(const View& x, int dtype) {
  if (x.dtype != dtype || x.ndim != 4 || x.strides[3] != 1) return false;
  if (reinterpret_cast<uintptr_t>(x.ptr) % 16 != 0 || x.offset % 8 != 0) return false;
  for (int i = 0; i < 3; i++) {
    if (x.shape[i] > 1 && x.strides[i] % 8 != 0) return false;
  }
  return true;
}

bool eligible(const AttnDims& d, std::initializer_list<const View*> views) {
  if (simple_requested() || (d.D != 64 && d.D != 128)) return false;
  const int dtype = (*views.begin())->dtype;
  if (dtype != BF16 && dtype != F16) return false;
  for (const View* x : views) {
    if (!rows_aligned(*x, dtype)) return false;
  }
  return true;
}

// Runs f with the element type and head dim as template arguments.
template <typename F>
void dispatch(int dtype, int64_t D, F&& f) {
  if (dtype == BF16) {
    if (D == 64) f(__nv_bfloat16{}, std::integral_constant<int, 64>{});
    else f(__nv_bfloat16{}, std::integral_constant<int, 128>{});
  } else {
    if (D == 64) f(__half{}, std::integral_constant<int, 64>{});
    else f(__half{}, std::integral_constant<int, 128>{});
  }
}

template <typename K>
void allow_smem(K kernel, size_t bytes, const char* op) {
  if (bytes > 48 * 1024) check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes)), op, "cudaFuncSetAttribute");
}

}  // namespace

bool attention_forward_mma(const View& q, const View& k, const View& v, const View& out, float* lse, const View& qseg,
                           const View& kseg, const AttnDims& d) {
  if (!eligible(d, {&q, &k, &v, &out})) return false;
  const dim3 grid(static_cast<unsigned>((d.T + kTile - 1) / kTile), static_cast<unsigned>(d.B * d.Hq));
  dispatch(q.dtype, d.D, [&](auto t, auto dm) {
    using T = decltype(t);
    constexpr int D = decltype(dm)::value;
    const size_t bytes = forward_smem<D>(sizeof(T));
    allow_smem(attention_forward_mma_kernel<T, D>, bytes, "attention");
    attention_forward_mma_kernel<T, D><<<grid, kThreads, bytes, stream()>>>(q, k, v, out, lse, qseg, kseg, d);
  });
  check_launch("attention");
  return true;
}

bool attention_backward_mma(const View& q, const View& k, const View& v, const View& out, const float* lse, const View& dout,
                            const View& dq, const View& dk, const View& dv, const View& qseg, const View& kseg, const AttnDims& d) {
  if (!eligible(d, {&q, &k, &v, &out, &dout, &dq, &dk, &dv})) return false;
  const int64_t rows = d.B * d.Hq * d.T;
  float* delta = nullptr;
  check(cudaMallocAsync(reinterpret_cast<void**>(&delta), static_cast<size_t>(rows > 0 ? rows : 1) * sizeof(float), stream()), "attentionGrad",
        "cudaMallocAsync (delta)");
  dispatch(q.dtype, d.D, [&](auto t, auto dm) {
    using T = decltype(t);
    constexpr int D = decltype(dm)::value;
    constexpr int BQ = D == 64 ? 64 : 32;  // registers: dK and dV accumulators of 128 columns leave room for 32 queries
    if (rows > 0) {
      attention_delta_mma_kernel<T, D><<<blocks_for(rows, 8), 256, 0, stream()>>>(out, dout, delta, d);
      const size_t bytes = dq_smem<D>(sizeof(T));
      allow_smem(attention_dq_mma_kernel<T, D>, bytes, "attentionGrad");
      const dim3 gq(static_cast<unsigned>((d.T + kTile - 1) / kTile), static_cast<unsigned>(d.B * d.Hq));
      attention_dq_mma_kernel<T, D><<<gq, kThreads, bytes, stream()>>>(q, k, v, lse, delta, dout, dq, qseg, kseg, d);
    }
    if (d.S > 0) {
      const size_t bytes = dkv_smem<D, BQ>(sizeof(T));
      allow_smem(attention_dkv_mma_kernel<T, D, BQ>, bytes, "attentionGrad");
      const dim3 gk(static_cast<unsigned>((d.S + kTile - 1) / kTile), static_cast<unsigned>(d.B * d.Hkv));
      attention_dkv_mma_kernel<T, D, BQ><<<gk, kThreads, bytes, stream()>>>(q, k, v, lse, delta, dout, dk, dv, qseg, kseg, d);
    }
  });
  check_launch("attentionGrad");
  check(cudaFreeAsync(delta, stream()), "attentionGrad", "cudaFreeAsync (delta)");
  return true;
}

}  // namespace lmcuda
