// What the tensor-core attention kernels (attention_mma.cu: mma.sync, any sm_80+ GPU;
// attention_wgmma.cu: Hopper's warpgroup products) share: row addressing, masks and segment
// ranges, the online softmax step over a key tile and the row stores, all on the m16n8
// accumulator layout both instructions use.
#pragma once

#include <climits>
#include <cstdlib>
#include <cstring>
#include <type_traits>

#include "attention.cuh"
#include "mma.cuh"

namespace lmcuda {
namespace {

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

// Queues the copy of rows t0..t0+ROWS-1 of head h of a (B, T, H, D) view (zeros past n) into
// shared memory, 16 bytes per cp.async, in one of the kernels' tile layouts: element (row, col)
// at dst + row * PITCH + within(row, col), within repeating every STEP = THREADS / (D / 8) rows
// (padded rows: col; the 128-byte swizzle: the column block and the chunk's permuted place).
// Each thread copies one fixed 16-byte column chunk of every STEP-th row, so its addresses are
// computed once and stepped; only a tile that runs past n tests each row (per row, 64-bit
// products and range tests were a fifth of the wgmma forward's instructions).
template <typename T, int D, int ROWS, int THREADS, int PITCH, typename Within>
__device__ __forceinline__ void copy_rows_async(const View& x, int64_t b, int64_t h, int64_t t0, int64_t n, T* dst, Within&& within) {
  constexpr int CHUNKS = D / 8, STEP = THREADS / CHUNKS, PASSES = (ROWS + STEP - 1) / STEP;
  static_assert(THREADS % CHUNKS == 0, "a row's chunks divide the block");
  const int j0 = threadIdx.x / CHUNKS, col = (threadIdx.x % CHUNKS) * 8;
  const int64_t stride = x.strides[1];
  const T* src = reinterpret_cast<const T*>(x.ptr) + (x.offset + b * x.strides[0] + h * x.strides[2] + col);
  T* out = dst + j0 * PITCH + within(j0, col);
  if (t0 >= 0 && t0 + ROWS <= n) {
    const T* p = src + (t0 + j0) * stride;
#pragma unroll
    for (int r = 0; r < PASSES; r++) {
      if (ROWS % STEP != 0 && j0 + r * STEP >= ROWS) break;
      cp_async_16(out + r * STEP * PITCH, p + r * STEP * stride, true);
    }
  } else {
#pragma unroll
    for (int r = 0; r < PASSES; r++) {
      if (ROWS % STEP != 0 && j0 + r * STEP >= ROWS) break;
      const int64_t t = t0 + j0 + r * STEP;
      const bool valid = t >= 0 && t < n;
      cp_async_16(out + r * STEP * PITCH, valid ? src + t * stride : src, valid);
    }
  }
}

// op (max, sum) over this lane's 2 NB scores of row i (0 or 1) of a 16-row m-tile, as a tree:
// depth log2(2 NB) instead of a chain of 2 NB dependent instructions, whose latency two warps
// per scheduler cannot hide. (The caller combines the row's four lanes.)
template <int NB, typename Op>
__device__ __forceinline__ float row_reduce(const float (&s)[NB][4], int i, Op&& op) {
  float t[NB];
#pragma unroll
  for (int j = 0; j < NB; j++) t[j] = op(s[j][2 * i], s[j][2 * i + 1]);
#pragma unroll
  for (int w = NB / 2; w >= 1; w /= 2) {
#pragma unroll
    for (int j = 0; j < w; j++) t[j] = op(t[j], t[j + w]);
  }
  return t[0];
}

// Whether key s is visible from query t (segment ids qs, ks).
__device__ __forceinline__ bool sees(const AttnDims& d, int64_t t, int64_t s, int qs, int ks) {
  return t < d.T && s < d.S && (!d.causal || s <= t + d.S - d.T) && (!d.has_seg || qs == ks);
}

// Row i of the lane's two (0: row g, 1: row g + 8) of a 16-row accumulator tile, times scale,
// into dst: columns 8n + 2c and 8n + 2c + 1 of every n.
template <typename T, int ND>
__device__ __forceinline__ void store_row(T* dst, const float (&acc)[ND][4], int i, float scale, int c) {
#pragma unroll
  for (int n = 0; n < ND; n++) *reinterpret_cast<uint32_t*>(dst + n * 8 + 2 * c) = pack_pair<T>(acc[n][2 * i] * scale, acc[n][2 * i + 1] * scale);
}

template <int M, int N>
__device__ __forceinline__ void zero(float (&acc)[M][N][4]) {
#pragma unroll
  for (int m = 0; m < M; m++) {
#pragma unroll
    for (int j = 0; j < N; j++) acc[m][j][0] = acc[m][j][1] = acc[m][j][2] = acc[m][j][3] = 0.f;
  }
}

// A warp's range of segment ids (packed samples). Comparing the ranges of a warp's rows and of
// a tile's keys tells, before any product, that no key of the tile is in a segment of any row
// (the warp skips the tile: with samples of a few hundred tokens packed into rows of a
// thousand, most causal tiles are such) or that all of them share one segment (no per-element
// mask). The kernels take SEG (d.has_seg) as a template argument, so that without segments they
// keep no segment state in registers (at head dim 128 they have none to spare: one more live
// value spilled and cost 20%).
struct SegRange {
  int lo, hi;
};
__device__ __forceinline__ SegRange warp_range(int lo, int hi) {
  return {__reduce_min_sync(0xffffffffu, lo), __reduce_max_sync(0xffffffffu, hi)};
}
// The range of n (<= 64) segment ids in shared memory.
__device__ __forceinline__ SegRange tile_range(const int* seg, int n, int lane) {
  int lo = INT_MAX, hi = INT_MIN;
  for (int j = lane; j < n; j += 32) lo = min(lo, seg[j]), hi = max(hi, seg[j]);
  return warp_range(lo, hi);
}
__device__ __forceinline__ bool disjoint(SegRange a, SegRange b) { return a.hi < b.lo || a.lo > b.hi; }
__device__ __forceinline__ bool one_segment(SegRange a, SegRange b) { return a.lo == a.hi && b.lo == b.hi && a.lo == b.lo; }

// Scores the lane's rows cannot see (visible(row 0 or 1, column) false) become -inf. Kernels
// call it only for tiles that need a mask: inlined into the softmax with a per-score
// `whole ||` test, it compiled to a branch and a byte conversion per score.
template <int NB, typename Visible>
__device__ __forceinline__ void mask_scores(float (&s)[NB][4], int c, Visible&& visible) {
#pragma unroll
  for (int j = 0; j < NB; j++) {
#pragma unroll
    for (int e = 0; e < 4; e++) s[j][e] = visible(e >> 1, j * 8 + 2 * c + (e & 1)) ? s[j][e] : -INFINITY;
  }
}

// One key tile of the online softmax for a 16-row m-tile (hidden scores already -inf, see
// mask_scores), up to the output's rescaling: turns the raw scores s into probabilities in place
// against the new running max (in log2 units: ex2(s * sl - max), one fused multiply-add per
// score), and updates the running max m and sum l of the lane's two rows; corr is what the
// rows' outputs must be multiplied by.
// (Apart from the rescale so that Hopper's kernels can do it once their product with the
// previous tile's probabilities, which accumulates into the outputs, has finished.)
template <int NB>
__device__ __forceinline__ void softmax_scores(float (&s)[NB][4], float (&m)[2], float (&l)[2], float (&corr)[2], float sl) {
  const auto max_op = [](float a, float b) { return fmaxf(a, b); };
  const auto sum_op = [](float a, float b) { return a + b; };
  float base[2];
#pragma unroll
  for (int i = 0; i < 2; i++) {
    float mx = row_reduce<NB>(s, i, max_op);
    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
    const float mn = fmaxf(m[i], mx * sl);  // sl > 0: the max of the scaled scores
    base[i] = mn == -INFINITY ? 0.f : mn;  // a row that sees nothing yet keeps p = 0
    corr[i] = ex2_ftz(m[i] - base[i]);
    m[i] = mn;
  }
#pragma unroll
  for (int j = 0; j < NB; j++) {
#pragma unroll
    for (int e = 0; e < 4; e++) s[j][e] = ex2_ftz(fmaf(s[j][e], sl, -base[e >> 1]));
  }
#pragma unroll
  for (int i = 0; i < 2; i++) l[i] = l[i] * corr[i] + row_reduce<NB>(s, i, sum_op);
}

template <int ND>
__device__ __forceinline__ void rescale_rows(float (&o)[ND][4], const float (&corr)[2]) {
#pragma unroll
  for (int n = 0; n < ND; n++) {
    o[n][0] *= corr[0];
    o[n][1] *= corr[0];
    o[n][2] *= corr[1];
    o[n][3] *= corr[1];
  }
}

// The whole step, for kernels whose outputs are in registers throughout (mma.sync).
template <int NB, int ND>
__device__ __forceinline__ void softmax_step(float (&s)[NB][4], float (&m)[2], float (&l)[2], float (&o)[ND][4], float sl) {
  float corr[2];
  softmax_scores<NB>(s, m, l, corr, sl);
  rescale_rows<ND>(o, corr);
}

// The backward's statistics of query rows t0..t0+BQ-1 of head h into shared memory by cp.async
// (they land with the caller's next committed group, not stalling the copying threads on
// their loads): lse (natural log units), delta and segment ids, zeros past T, where the masks
// hide every score whatever these hold.
template <int BQ, bool SEG>
__device__ __forceinline__ void copy_query_stats(const float* lse, const float* delta, const View& qseg, const AttnDims& d, int64_t b,
                                                 int64_t h, int64_t t0, float* lse_dst, float* delta_dst, int* seg_dst) {
  if (threadIdx.x < BQ) {
    const int64_t t = t0 + threadIdx.x;
    const bool in = t < d.T;
    const int64_t at = (b * d.Hq + h) * d.T + (in ? t : 0);
    cp_async_4(lse_dst + threadIdx.x, lse + at, in);
    cp_async_4(delta_dst + threadIdx.x, delta + at, in);
    if (SEG) {
      const int* src = reinterpret_cast<const int32_t*>(qseg.ptr) + qseg.offset + b * qseg.strides[0] + (in ? t * qseg.strides[1] : 0);
      cp_async_4(seg_dst + threadIdx.x, src, in);
    }
  }
}

// The lane's two key rows (keys[i] < S) of dK (times scale) and dV, from accumulators whose
// rows are keys; with grouped-query heads, f32 partial sums of query head h instead (two
// regions, dk then dv, each (B, S, Hq, D)) for attention_dkv_sum_kernel.
template <typename T, int ND>
__device__ __forceinline__ void store_dkv(const float (&dka)[ND][4], const float (&dva)[ND][4], const int64_t keys[2], int64_t b, int64_t h,
                                          int64_t hk, float* partial, const View& dk, const View& dv, const AttnDims& d, int c) {
  for (int i = 0; i < 2; i++) {
    if (keys[i] >= d.S) continue;
    if (d.Hq > d.Hkv) {
      const int64_t region = d.B * d.S * d.Hq * (ND * 8);
      float* pk = partial + ((b * d.S + keys[i]) * d.Hq + h) * (ND * 8);
#pragma unroll
      for (int n = 0; n < ND; n++) {
        *reinterpret_cast<float2*>(pk + n * 8 + 2 * c) = make_float2(dka[n][2 * i] * d.scale, dka[n][2 * i + 1] * d.scale);
        *reinterpret_cast<float2*>(pk + region + n * 8 + 2 * c) = make_float2(dva[n][2 * i], dva[n][2 * i + 1]);
      }
      continue;
    }
    store_row<T, ND>(row_out<T>(dk, b, keys[i], hk), dka, i, d.scale, c);
    store_row<T, ND>(row_out<T>(dv, b, keys[i], hk), dva, i, 1.f, c);
  }
}

// Whether LMFLOW_CUDA_ATTENTION names this set of kernels (simple, mma, wgmma). Read on every
// call, so that one process can time or test each set.
inline bool attention_kernels_requested(const char* name) {
  const char* e = std::getenv("LMFLOW_CUDA_ATTENTION");
  return e != nullptr && std::strcmp(e, name) == 0;
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

}  // namespace
}  // namespace lmcuda
