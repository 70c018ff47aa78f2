// FlashAttention-2 on tensor cores (mma.sync, see mma.cuh) for bf16/f16 with head dims 64 and
// 128: forward, and a backward in two passes that need no atomics (dq over query tiles; dk, dv
// over key tiles). A block is 4 warps; each warp owns 16 (or 16 * MT) rows and keeps its
// scores, probabilities and outputs in registers. The tiles it multiplies by (K, V in the
// forward and dq; Q, dO in dk/dv) stream through shared memory row-major, copied
// asynchronously (cp.async) into one buffer while the other is computed on; ldmatrix (.trans
// where a product reduces over the rows) reads them as fragments, so nothing is ever
// transposed in memory. Scores stay in f32; probabilities enter the second product rounded to
// the input type, as in FlashAttention. Rows padded by 8 halves make every ldmatrix free of
// bank conflicts. The tile shapes per head dim are at the end (ForwardTiles, ...).
#include <climits>
#include <initializer_list>
#include <type_traits>

#include "attention.cuh"
#include "attention_tiles.cuh"
#include "device.cuh"
#include "mma.cuh"
#include "profile.h"

namespace lmcuda {
namespace {

constexpr int kWarps = 4;
constexpr int kThreads = kWarps * 32;
constexpr int kTile = 64;  // keys of a dk/dv block (16 per warp)
constexpr int kPad = 8;


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

// Rows t0..t0+ROWS-1 of head h (zeros past n) into dst with row stride D + kPad.
template <typename T, int D, int ROWS>
__device__ __forceinline__ void copy_rows_async(const View& x, int64_t b, int64_t h, int64_t t0, int64_t n, T* dst) {
  copy_rows_async<T, D, ROWS, kThreads, D + kPad>(x, b, h, t0, n, dst, [](int, int col) { return col; });
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

// acc[m][0..NT) += A_m @ B over k0..k0+15 for each of the MT m-tiles, B read from a row-major
// shared array X whose rows are the n index (B(k, n) = X[n][k]: K in Q K^T) or, with ROWS_K,
// the k index (B(k, n) = X[k][n]: V in P V, read with ldmatrix .trans). Each B fragment read
// from shared memory feeds all MT products.
template <typename T, int MT, int NT, bool ROWS_K>
__device__ __forceinline__ void mma_smem(float acc[][NT][4], const uint32_t a[][4], const T* x, int stride, int k0, int lane) {
#pragma unroll
  for (int j = 0; j < NT; j += 2) {
    uint32_t bb[4];
    if constexpr (ROWS_K) ldsm_b_rows_k(bb, x, stride, j, k0, lane);
    else ldsm_b_rows_n(bb, x, stride, j, k0, lane);
#pragma unroll
    for (int m = 0; m < MT; m++) {
      mma_16816<T>(acc[m][j], a[m], bb[0], bb[1]);
      mma_16816<T>(acc[m][j + 1], a[m], bb[2], bb[3]);
    }
  }
}



// The left operand of a warp's products: MT m-tiles of 16 rows (rows m*16.. of the warp's
// 16*MT), 4 warps to a block of BM rows. Its fragments stay in registers (REG), loaded once
// from global memory, or the block's rows sit in shared memory and ldmatrix reads each
// fragment when it is used: fewer registers, which is what lets a warp own more rows.
template <typename T, int D, int MT, bool REG>
struct RowOperand {
  static constexpr int KD = D / 16;
  uint32_t f[REG ? MT : 1][REG ? KD : 1][4];
  const T* sm;

  // Rows row0..row0+BM-1 of head h (zeros past n); rows[m] are this lane's two rows of m-tile m.
  // The shared-memory copy is queued with cp.async and lands with the next committed group.
  __device__ __forceinline__ void load(const View& x, int64_t b, int64_t h, int64_t row0, const int64_t rows[][2], int64_t n, int c, T* smem) {
    if constexpr (REG) {
#pragma unroll
      for (int m = 0; m < MT; m++) load_rows_a<T, KD>(f[m], x, b, h, rows[m], n, c);
    } else {
      copy_rows_async<T, D, kWarps * 16 * MT>(x, b, h, row0, n, smem);
      sm = smem;
    }
  }
  // The A fragments of columns kk*16..kk*16+15 for the warp's MT m-tiles.
  __device__ __forceinline__ void frags(uint32_t a[][4], int kk, int warp, int lane) const {
#pragma unroll
    for (int m = 0; m < MT; m++) {
      if constexpr (REG) {
#pragma unroll
        for (int i = 0; i < 4; i++) a[m][i] = f[m][kk][i];
      } else {
        ldsm_a(a[m], sm, D + kPad, (warp * MT + m) * 16, kk * 16, lane);
      }
    }
  }
};

// The tile shape of a query-tile kernel (forward, dq): MT m-tiles of 16 query rows per warp
// (a block has BM = 64 * MT rows), key tiles of BN rows streaming through shared memory, and
// the warp's query-side operands (Q; also dO in dq) in registers or shared memory (REG).
template <int D_, int MT_, int BN_, bool REG_, int MINB_ = 1>
struct QTiles {
  static constexpr int D = D_, MT = MT_, BN = BN_, BM = kWarps * 16 * MT_;
  static constexpr bool REG = REG_;
  static constexpr int MINB = MINB_;  // blocks per SM the registers must allow (__launch_bounds__)
};


// Where a query-tile block works: rows q0..q0+BM-1 of query head h of batch b, key tiles
// 0..tiles-1 of kv head hk. A warp owns rows w0..w0+16*MT-1; rows[m] are its lane's two rows
// of m-tile m.
template <int MT>
struct QueryBlock {
  int64_t q0, w0, b, h, hk, shift, tiles;
  int64_t rows[MT][2];
  int qsg[MT][2];
  SegRange seg;  // of the warp's rows before T (with segments)
};

// grid: (ceil(T / BM), B * Hq), last query tile first (under a causal mask it has the most keys).
// Called by every lane of a warp (the segment range is a warp reduction).
template <typename C, bool SEG>
__device__ __forceinline__ QueryBlock<C::MT> query_block(const AttnDims& d, const View& qseg, int warp, int g) {
  QueryBlock<C::MT> qb;
  qb.q0 = (gridDim.x - 1 - blockIdx.x) * static_cast<int64_t>(C::BM);
  qb.w0 = qb.q0 + warp * C::MT * 16;
  qb.b = blockIdx.y / d.Hq;
  qb.h = blockIdx.y % d.Hq;
  qb.hk = qb.h / (d.Hq / d.Hkv);
  qb.shift = d.S - d.T;
  const int64_t last_t = min(d.T - 1, qb.q0 + C::BM - 1);
  const int64_t s_end = d.causal ? min(d.S, last_t + qb.shift + 1) : d.S;
  qb.tiles = s_end > 0 ? (s_end + C::BN - 1) / C::BN : 0;
#pragma unroll
  for (int m = 0; m < C::MT; m++) {
#pragma unroll
    for (int i = 0; i < 2; i++) {
      qb.rows[m][i] = qb.w0 + m * 16 + g + 8 * i;
      qb.qsg[m][i] = SEG && qb.rows[m][i] < d.T ? seg_at(qseg, qb.b, qb.rows[m][i]) : -1;
    }
  }
  int lo = INT_MAX, hi = INT_MIN;
#pragma unroll
  for (int m = 0; m < C::MT; m++) {
#pragma unroll
    for (int i = 0; i < 2; i++) {
      if (qb.rows[m][i] < d.T) lo = min(lo, qb.qsg[m][i]), hi = max(hi, qb.qsg[m][i]);
    }
  }
  qb.seg = SEG ? warp_range(lo, hi) : SegRange{0, 0};
  return qb;
}

// Whether key tile s0..s0+BN-1 (segments ks) is wholly visible to every row of the warp (no
// per-element mask), and whether it is wholly invisible to it (the warp skips it: under a causal
// mask the warps of a block near the diagonal see different numbers of keys, its rows are past
// T, or no key shares a segment with its rows).
template <typename C, bool SEG>
__device__ __forceinline__ bool tile_whole(const AttnDims& d, const QueryBlock<C::MT>& qb, int64_t s0, SegRange ks) {
  return (!SEG || one_segment(qb.seg, ks)) && s0 + C::BN <= d.S && qb.w0 + C::MT * 16 <= d.T &&
         (!d.causal || s0 + C::BN - 1 <= qb.w0 + qb.shift);
}
template <typename C, bool SEG>
__device__ __forceinline__ bool tile_hidden(const AttnDims& d, const QueryBlock<C::MT>& qb, int64_t s0, SegRange ks) {
  return qb.w0 >= d.T || (d.causal && s0 > qb.w0 + C::MT * 16 - 1 + qb.shift) || (SEG && disjoint(qb.seg, ks));
}

template <typename T, typename C>
constexpr size_t qtile_smem(int row_operands) {
  return ((C::REG ? 0 : row_operands * C::BM) + 4 * C::BN) * (C::D + kPad) * sizeof(T) + 2 * C::BN * sizeof(int);
}

// Queues key tile it (BN keys) of K and V, and its segment ids, into buffer it % 2.
template <typename T, int D, int BN>
__device__ __forceinline__ void issue_kv_tile(const View& k, const View& v, const View& kseg, const AttnDims& d, int64_t b, int64_t hk,
                                              int64_t it, T* kbuf, T* vbuf, int* kseg_buf) {
  constexpr int TILE = BN * (D + kPad);
  const int buf = static_cast<int>(it & 1);
  const int64_t s0 = it * BN;
  copy_rows_async<T, D, BN>(k, b, hk, s0, d.S, kbuf + buf * TILE);
  copy_rows_async<T, D, BN>(v, b, hk, s0, d.S, vbuf + buf * TILE);
  if (threadIdx.x < BN) kseg_buf[buf * BN + threadIdx.x] = d.has_seg && s0 + threadIdx.x < d.S ? seg_at(kseg, b, s0 + threadIdx.x) : 0;
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

// The key-tile loop of the query-tile kernels (forward, dq): each tile of K and V (and its
// segment ids) lands in shared memory while the next is copied, then body(s0, ks, vs, kseg_s, kr)
// runs unless the warp sees nothing of it; every thread passes the block's barriers.
template <typename T, typename C, bool SEG, typename Issue, typename Body>
__device__ __forceinline__ void for_each_key_tile(const AttnDims& d, const QueryBlock<C::MT>& qb, Issue&& issue, const T* kbuf,
                                                  const T* vbuf, const int* kseg_buf, int lane, Body&& body) {
  constexpr int TILE = C::BN * (C::D + kPad);
  for (int64_t it = 0; it < qb.tiles; it++) {
    next_tile(it, qb.tiles, issue);
    const int64_t s0 = it * C::BN;
    const int buf = static_cast<int>(it & 1);
    const int* kseg_s = kseg_buf + buf * C::BN;
    const SegRange kr = SEG ? tile_range(kseg_s, C::BN, lane) : SegRange{0, 0};
    if (!tile_hidden<C, SEG>(d, qb, s0, kr)) body(s0, kbuf + buf * TILE, vbuf + buf * TILE, kseg_s, kr);
    __syncthreads();  // the next issue overwrites this buffer
  }
  if (qb.tiles == 0) cp_async_commit(), cp_async_wait<0>();  // the queued Q (dO) copy
}


template <typename T, typename C, bool SEG>
__global__ void __launch_bounds__(kThreads, C::MINB) attention_forward_mma_kernel(View q, View k, View v, View out, float* lse, View qseg,
                                                                         View kseg, AttnDims d) {
  constexpr int D = C::D, MT = C::MT, BN = C::BN, KS = D + kPad, KD = D / 16, ND = D / 8, NB = BN / 8, TILE = BN * KS;
  extern __shared__ __align__(16) unsigned char smem[];
  T* qsm = reinterpret_cast<T*>(smem);
  T* kbuf = qsm + (C::REG ? 0 : C::BM * KS);
  T* vbuf = kbuf + 2 * TILE;
  int* kseg_buf = reinterpret_cast<int*>(vbuf + 2 * TILE);
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, c = lane & 3;
  const QueryBlock<MT> qb = query_block<C, SEG>(d, qseg, warp, lane >> 2);
  auto issue = [&](int64_t it) { issue_kv_tile<T, D, BN>(k, v, kseg, d, qb.b, qb.hk, it, kbuf, vbuf, kseg_buf); };
  RowOperand<T, D, MT, C::REG> qa;
  qa.load(q, qb.b, qb.h, qb.q0, qb.rows, d.T, c, qsm);  // a shared-memory copy lands with tile 0
  if (qb.tiles > 0) issue(0);
  float m[MT][2], l[MT][2], o[MT][ND][4];
#pragma unroll
  for (int mt = 0; mt < MT; mt++) m[mt][0] = m[mt][1] = -INFINITY, l[mt][0] = l[mt][1] = 0.f;
  zero(o);
  const float sl = d.scale * kLog2e;  // scores in log2 units: exp2 instead of exp
  for_each_key_tile<T, C, SEG>(d, qb, issue, kbuf, vbuf, kseg_buf, lane, [&](int64_t s0, const T* ks, const T* vs, const int* kseg_s, SegRange kr) {
    float s[MT][NB][4];
    zero(s);
#pragma unroll
    for (int kk = 0; kk < KD; kk++) {
      uint32_t a[MT][4];
      qa.frags(a, kk, warp, lane);
      mma_smem<T, MT, NB, false>(s, a, ks, KS, kk * 16, lane);
    }
    const bool whole = tile_whole<C, SEG>(d, qb, s0, kr);
#pragma unroll
    for (int mt = 0; mt < MT; mt++) {
      if (!whole) mask_scores<NB>(s[mt], c, [&](int i, int kj) { return sees(d, qb.rows[mt][i], s0 + kj, qb.qsg[mt][i], kseg_s[kj]); });
      softmax_step<NB, ND>(s[mt], m[mt], l[mt], o[mt], sl);
    }
#pragma unroll
    for (int kk = 0; kk < BN / 16; kk++) {
      uint32_t a[MT][4];
#pragma unroll
      for (int mt = 0; mt < MT; mt++) acc_to_a<T>(a[mt], s[mt][2 * kk], s[mt][2 * kk + 1]);
      mma_smem<T, MT, ND, true>(o, a, vs, KS, kk * 16, lane);
    }
  });
#pragma unroll
  for (int mt = 0; mt < MT; mt++) {
    for (int i = 0; i < 2; i++) {
      float sum = l[mt][i];
      sum += __shfl_xor_sync(0xffffffffu, sum, 1);
      sum += __shfl_xor_sync(0xffffffffu, sum, 2);
      const int64_t t = qb.rows[mt][i];
      if (t >= d.T) continue;
      const float inv = sum > 0.f ? 1.f / sum : 0.f;
      store_row<T, ND>(row_out<T>(out, qb.b, t, qb.h), o[mt], i, inv, c);
      if (c == 0) lse[(qb.b * d.Hq + qb.h) * d.T + t] = sum > 0.f ? m[mt][i] * kLn2 + logf(sum) : -INFINITY;
    }
  }
}

// delta[b, h, t] = sum_i dout[b, t, h, i] * out[b, t, h, i]: D / 8 lanes per row, 16 bytes of
// each operand per lane (a warp per row moved 4 bytes per lane and load).
template <typename T, int D>
__global__ void attention_delta_mma_kernel(View out, View dout, float* delta, AttnDims d) {
  constexpr int LANES = D / 8;
  // The row's lanes, all active together (each row has all its LANES iterations or none).
  const unsigned group = ((1u << LANES) - 1u) << (threadIdx.x & 31 & ~(LANES - 1));
  LMCUDA_FOR(j, d.B * d.T * d.Hq * LANES) {
    const int64_t r = j / LANES, h = r % d.Hq, t = (r / d.Hq) % d.T, b = r / (d.Hq * d.T);
    const int col = static_cast<int>(j % LANES) * 8;
    const uint4 x = *reinterpret_cast<const uint4*>(row_in<T>(out, b, t, h) + col);
    const uint4 y = *reinterpret_cast<const uint4*>(row_in<T>(dout, b, t, h) + col);
    const T* xs = reinterpret_cast<const T*>(&x);
    const T* ys = reinterpret_cast<const T*>(&y);
    float s = 0.f;
#pragma unroll
    for (int i = 0; i < 8; i += 2) {
      const float2 a = unpack_pair(xs + i), c = unpack_pair(ys + i);
      s = fmaf(a.x, c.x, fmaf(a.y, c.y, s));
    }
#pragma unroll
    for (int o = LANES / 2; o > 0; o >>= 1) s += __shfl_xor_sync(group, s, o);
    if (col == 0) delta[(b * d.Hq + h) * d.T + t] = s;
  }
}

// dq = scale * sum_s dS[t, s] k[s], dS = P * (dO v^T - delta). Blocks as the forward's. K and
// V tiles stream through shared memory as in the forward (K serves Q K^T and dS K, V dO V^T).
template <typename T, typename C, bool SEG>
__global__ void __launch_bounds__(kThreads, C::MINB) attention_dq_mma_kernel(View q, View k, View v, const float* lse, const float* delta,
                                                                    View dout, View dq, View qseg, View kseg, AttnDims d) {
  constexpr int D = C::D, MT = C::MT, BN = C::BN, KS = D + kPad, KD = D / 16, ND = D / 8, NB = BN / 8, TILE = BN * KS;
  extern __shared__ __align__(16) unsigned char smem[];
  T* qsm = reinterpret_cast<T*>(smem);
  T* gsm = qsm + (C::REG ? 0 : C::BM * KS);
  T* kbuf = gsm + (C::REG ? 0 : C::BM * KS);
  T* vbuf = kbuf + 2 * TILE;
  int* kseg_buf = reinterpret_cast<int*>(vbuf + 2 * TILE);
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, c = lane & 3;
  const QueryBlock<MT> qb = query_block<C, SEG>(d, qseg, warp, lane >> 2);
  auto issue = [&](int64_t it) { issue_kv_tile<T, D, BN>(k, v, kseg, d, qb.b, qb.hk, it, kbuf, vbuf, kseg_buf); };
  RowOperand<T, D, MT, C::REG> qa, ga;
  qa.load(q, qb.b, qb.h, qb.q0, qb.rows, d.T, c, qsm);
  ga.load(dout, qb.b, qb.h, qb.q0, qb.rows, d.T, c, gsm);
  if (qb.tiles > 0) issue(0);
  float lse2[MT][2], dl[MT][2];
#pragma unroll
  for (int mt = 0; mt < MT; mt++) {
    for (int i = 0; i < 2; i++) {
      const int64_t t = qb.rows[mt][i];
      const bool in = t < d.T;
      lse2[mt][i] = in ? lse[(qb.b * d.Hq + qb.h) * d.T + t] * kLog2e : -INFINITY;
      dl[mt][i] = in ? delta[(qb.b * d.Hq + qb.h) * d.T + t] : 0.f;
    }
  }
  float acc[MT][ND][4];
  zero(acc);
  const float sl = d.scale * kLog2e;
  for_each_key_tile<T, C, SEG>(d, qb, issue, kbuf, vbuf, kseg_buf, lane, [&](int64_t s0, const T* ks, const T* vs, const int* kseg_s, SegRange kr) {
    float s[MT][NB][4], dp[MT][NB][4];
    zero(s);
    zero(dp);
#pragma unroll
    for (int kk = 0; kk < KD; kk++) {
      uint32_t a[MT][4];
      qa.frags(a, kk, warp, lane);
      mma_smem<T, MT, NB, false>(s, a, ks, KS, kk * 16, lane);
      ga.frags(a, kk, warp, lane);
      mma_smem<T, MT, NB, false>(dp, a, vs, KS, kk * 16, lane);
    }
    const bool whole = tile_whole<C, SEG>(d, qb, s0, kr);
#pragma unroll
    for (int mt = 0; mt < MT; mt++) {
      // The mask only where the tile needs it; -lse capped to a finite value so that a hidden
      // score of a row that sees nothing (lse -inf) gives exp(-inf) = 0 (as in the wgmma backward).
      if (!whole) mask_scores<NB>(s[mt], c, [&](int i, int kj) { return sees(d, qb.rows[mt][i], s0 + kj, qb.qsg[mt][i], kseg_s[kj]); });
      const float nl[2] = {fminf(-lse2[mt][0], FLT_MAX), fminf(-lse2[mt][1], FLT_MAX)};
#pragma unroll
      for (int j = 0; j < NB; j++) {
#pragma unroll
        for (int e = 0; e < 4; e++) {
          const float p = ex2_ftz(fmaf(s[mt][j][e], sl, nl[e >> 1]));
          s[mt][j][e] = p * (dp[mt][j][e] - dl[mt][e >> 1]);
        }
      }
    }
#pragma unroll
    for (int kk = 0; kk < BN / 16; kk++) {
      uint32_t a[MT][4];
#pragma unroll
      for (int mt = 0; mt < MT; mt++) acc_to_a<T>(a[mt], s[mt][2 * kk], s[mt][2 * kk + 1]);
      mma_smem<T, MT, ND, true>(acc, a, ks, KS, kk * 16, lane);
    }
  });
#pragma unroll
  for (int mt = 0; mt < MT; mt++) {
    for (int i = 0; i < 2; i++) {
      const int64_t t = qb.rows[mt][i];
      if (t >= d.T) continue;
      store_row<T, ND>(row_out<T>(dq, qb.b, t, qb.h), acc[mt], i, d.scale, c);
    }
  }
}

// The tile shape of the dk/dv kernel: query tiles of BQ rows stream past the block's 64 keys;
// the warp's K and V fragments in registers or re-read from shared memory (REG).
template <int D_, int BQ_, bool REG_, int MINB_ = 1>
struct KTiles {
  static constexpr int D = D_, BQ = BQ_;
  static constexpr bool REG = REG_;
  static constexpr int MINB = MINB_;  // blocks per SM the registers must allow (__launch_bounds__)
};

template <typename T, typename C>
constexpr size_t dkv_smem() {
  return ((C::REG ? 0 : 2 * kTile) + 2 * 2 * C::BQ) * (C::D + kPad) * sizeof(T) + 2 * C::BQ * (2 * sizeof(float) + sizeof(int));
}

// dk = scale * sum_t dS[t, s] q[t], dv = sum_t P[t, s] dO[t], over the query heads of the kv
// head's group. grid: (ceil(S / 64), B * Hq): a block per query head. With grouped-query heads
// it writes f32 partial sums to partial (two regions, dk then dv, each (B, S, Hq, D)) that
// attention_dkv_sum_kernel adds up; a block per kv head, looping over its group, would leave
// most of the GPU idle (4 x 1024 tokens, 8 kv heads: 512 blocks).
// Each warp owns 16 keys and works on P^T and dS^T (keys x queries). Q and dO tiles of BQ
// queries stream through shared memory (Q serves K Q^T and dS^T Q; dO serves V dO^T and P^T dO).
template <typename T, typename C, bool SEG>
__global__ void __launch_bounds__(kThreads, C::MINB) attention_dkv_mma_kernel(View q, View k, View v, const float* lse, const float* delta,
                                                                     View dout, View dk, View dv, float* partial, View qseg, View kseg,
                                                                     AttnDims d) {
  constexpr int D = C::D, BQ = C::BQ, KS = D + kPad, KD = D / 16, ND = D / 8, NQ = BQ / 8, QTILE = BQ * KS;
  extern __shared__ __align__(16) unsigned char smem[];
  T* ks = reinterpret_cast<T*>(smem);
  T* vs = ks + (C::REG ? 0 : kTile * KS);
  T* qbuf = vs + (C::REG ? 0 : kTile * KS);
  T* gbuf = qbuf + 2 * QTILE;
  float* lse_buf = reinterpret_cast<float*>(gbuf + 2 * QTILE);
  float* delta_buf = lse_buf + 2 * BQ;
  int* qseg_buf = reinterpret_cast<int*>(delta_buf + 2 * BQ);
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, c = lane & 3;
  const int64_t s_first = blockIdx.x * static_cast<int64_t>(kTile);
  const int64_t b = blockIdx.y / d.Hq, h = blockIdx.y % d.Hq, hk = h / (d.Hq / d.Hkv);
  const int64_t keys[1][2] = {{s_first + warp * 16 + g, s_first + warp * 16 + g + 8}};
  const int64_t shift = d.S - d.T;
  // Causal: queries before the block's first key minus (S - T) never see it.
  const int64_t t_begin = d.causal ? max(static_cast<int64_t>(0), s_first - shift) : 0;
  const int64_t tiles = t_begin < d.T ? (d.T - t_begin + BQ - 1) / BQ : 0;
  RowOperand<T, D, 1, C::REG> ka, va;
  ka.load(k, b, hk, s_first, keys, d.S, c, ks);
  va.load(v, b, hk, s_first, keys, d.S, c, vs);
  auto issue = [&](int64_t it) {
    const int buf = static_cast<int>(it & 1);
    const int64_t t0 = t_begin + it * BQ;
    copy_rows_async<T, D, BQ>(q, b, h, t0, d.T, qbuf + buf * QTILE);
    copy_rows_async<T, D, BQ>(dout, b, h, t0, d.T, gbuf + buf * QTILE);
    copy_query_stats<BQ, SEG>(lse, delta, qseg, d, b, h, t0, lse_buf + buf * BQ, delta_buf + buf * BQ, qseg_buf + buf * BQ);
    cp_async_commit();  // the first group carries K and V too
  };
  if (tiles > 0) issue(0);
  if (tiles == 0) cp_async_commit(), cp_async_wait<0>();  // the queued K, V copy
  int ksg[2] = {-1, -1}, lo = INT_MAX, hi = INT_MIN;
  for (int i = 0; i < 2 && SEG; i++) {
    if (keys[0][i] < d.S) ksg[i] = seg_at(kseg, b, keys[0][i]), lo = min(lo, ksg[i]), hi = max(hi, ksg[i]);
  }
  const SegRange kr = SEG ? warp_range(lo, hi) : SegRange{0, 0};  // of the warp's keys before S
  const int w_first = static_cast<int>(s_first) + warp * 16;  // the warp's first key (S < 2^31)
  float dka[1][ND][4], dva[1][ND][4];
  zero(dka);
  zero(dva);
  const float sl = d.scale * kLog2e;
  for (int64_t it = 0; it < tiles; it++) {
    next_tile(it, tiles, issue);
    const int buf = static_cast<int>(it & 1);
    const T* qs = qbuf + buf * QTILE;
    const T* gs = gbuf + buf * QTILE;
    const float* lse_s = lse_buf + buf * BQ;
    const float* delta_s = delta_buf + buf * BQ;
    const int* qseg_s = qseg_buf + buf * BQ;
    const int64_t t0 = t_begin + it * BQ;
    // Skipped by the warp: queries before its first key (causal), past T, or in other segments.
    const SegRange qr = SEG ? tile_range(qseg_s, BQ, lane) : SegRange{0, 0};
    if (w_first >= d.S || (d.causal && t0 + BQ - 1 + shift < w_first) || (SEG && disjoint(qr, kr))) {
      __syncthreads();
      continue;
    }
    float st[1][NQ][4], dpt[1][NQ][4];
    zero(st);
    zero(dpt);
#pragma unroll
    for (int kk = 0; kk < KD; kk++) {
      uint32_t ak[1][4], av[1][4];
      ka.frags(ak, kk, warp, lane);
      va.frags(av, kk, warp, lane);
      mma_smem<T, 1, NQ, false>(st, ak, qs, KS, kk * 16, lane);
      mma_smem<T, 1, NQ, false>(dpt, av, gs, KS, kk * 16, lane);
    }
    const bool whole = (!SEG || one_segment(qr, kr)) && w_first + 16 <= d.S && t0 + BQ <= d.T && (!d.causal || w_first + 15 <= t0 + shift);
    // As in the wgmma backward: the mask only where needed (rows are keys, columns queries),
    // -lse capped.
    if (!whole) mask_scores<NQ>(st[0], c, [&](int i, int qj) { return sees(d, t0 + qj, keys[0][i], SEG ? qseg_s[qj] : 0, ksg[i]); });
#pragma unroll
    for (int j = 0; j < NQ; j++) {
#pragma unroll
      for (int e = 0; e < 4; e++) {
        const int qj = j * 8 + 2 * c + (e & 1);
        const float p = ex2_ftz(fmaf(st[0][j][e], sl, fminf(-lse_s[qj] * kLog2e, FLT_MAX)));
        st[0][j][e] = p;
        dpt[0][j][e] = p * (dpt[0][j][e] - delta_s[qj]);
      }
    }
#pragma unroll
    for (int kq = 0; kq < BQ / 16; kq++) {
      uint32_t ap[1][4], ads[1][4];
      acc_to_a<T>(ap[0], st[0][2 * kq], st[0][2 * kq + 1]);
      acc_to_a<T>(ads[0], dpt[0][2 * kq], dpt[0][2 * kq + 1]);
      mma_smem<T, 1, ND, true>(dva, ap, gs, KS, kq * 16, lane);
      mma_smem<T, 1, ND, true>(dka, ads, qs, KS, kq * 16, lane);
    }
    __syncthreads();
  }
  store_dkv<T, ND>(dka[0], dva[0], keys[0], b, h, hk, partial, dk, dv, d, c);
}

// dk, dv (B, S, Hkv, D) = the sums over each kv head's group of attention_dkv_mma_kernel's f32
// partials (B, S, Hq, D), whose group heads are adjacent: a thread per pair of columns of a row.
template <typename T, int D>
__global__ void attention_dkv_sum_kernel(const float* partial, View dk, View dv, AttnDims d) {
  const int64_t rows = d.B * d.S * d.Hkv, group = d.Hq / d.Hkv, region = rows * group * D;
  LMCUDA_FOR(j, rows * (D / 2)) {
    const int64_t row = j / (D / 2), i = (j % (D / 2)) * 2;
    const int64_t hk = row % d.Hkv, s = (row / d.Hkv) % d.S, b = row / (d.Hkv * d.S);
    const float* src = partial + row * group * D + i;
    float2 gk = make_float2(0.f, 0.f), gv = make_float2(0.f, 0.f);
    for (int64_t p = 0; p < group; p++) {
      const float2 a = *reinterpret_cast<const float2*>(src + p * D), e = *reinterpret_cast<const float2*>(src + region + p * D);
      gk.x += a.x, gk.y += a.y, gv.x += e.x, gv.y += e.y;
    }
    *reinterpret_cast<uint32_t*>(row_out<T>(dk, b, s, hk) + i) = pack_pair<T>(gk.x, gk.y);
    *reinterpret_cast<uint32_t*>(row_out<T>(dv, b, s, hk) + i) = pack_pair<T>(gv.x, gv.y);
  }
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
  if (attention_kernels_requested("simple") || (d.D != 64 && d.D != 128)) return false;
  const int dtype = (*views.begin())->dtype;
  if (dtype != BF16 && dtype != F16) return false;
  for (const View* x : views) {
    if (!rows_aligned(*x, dtype)) return false;
  }
  return true;
}


// The tile shapes, by head dim: each was the fastest of four to six candidates (rows per warp,
// keys per tile, operands in registers or shared memory, blocks per SM) timed on an H200 at the
// shapes of tools/gpu/profile-attention.ts; they differ by 5-15%.
template <int D>
using ForwardTiles = std::conditional_t<D == 64, QTiles<64, 1, 64, true>, QTiles<128, 1, 32, true, 3>>;
template <int D>
using DqTiles = std::conditional_t<D == 64, QTiles<64, 1, 32, false, 4>, QTiles<128, 1, 64, true>>;
// registers: dK and dV accumulators of 128 columns leave room for 32 queries
template <int D>
using DkvTiles = std::conditional_t<D == 64, KTiles<64, 64, false, 3>, KTiles<128, 32, false>>;

template <typename K>
void allow_smem(K kernel, size_t bytes, const char* op) {
  if (bytes > 48 * 1024) check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes)), op, "cudaFuncSetAttribute");
}

}  // namespace

bool attention_forward_mma(const View& q, const View& k, const View& v, const View& out, float* lse, const View& qseg,
                           const View& kseg, const AttnDims& d) {
  if (!eligible(d, {&q, &k, &v, &out})) return false;
  if (attention_forward_wgmma(q, k, v, out, lse, qseg, kseg, d)) return true;
  if (profiling()) profile_label(d.D == 64 ? "attention forward (D 64)" : "attention forward (D 128)");
  dispatch(q.dtype, d.D, [&](auto t, auto dm) {
    using T = decltype(t);
    using C = ForwardTiles<decltype(dm)::value>;
    const dim3 grid(static_cast<unsigned>((d.T + C::BM - 1) / C::BM), static_cast<unsigned>(d.B * d.Hq));
    const size_t bytes = qtile_smem<T, C>(1);
    auto kernel = d.has_seg ? attention_forward_mma_kernel<T, C, true> : attention_forward_mma_kernel<T, C, false>;
    allow_smem(kernel, bytes, "attention");
    kernel<<<grid, kThreads, bytes, stream()>>>(q, k, v, out, lse, qseg, kseg, d);
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
    if (rows > 0) {
      profiled(D == 64 ? "attentionGrad: delta (D 64)" : "attentionGrad: delta (D 128)",
               [&] { attention_delta_mma_kernel<T, D><<<blocks_for(rows * (D / 8), 256), 256, 0, stream()>>>(out, dout, delta, d); });
    }
    // Grouped-query heads: a block per query head, whose partial dk, dv sums a second kernel adds.
    const bool grouped = d.Hq > d.Hkv && d.S > 0;
    float* partial = nullptr;
    if (grouped) {
      check(cudaMallocAsync(reinterpret_cast<void**>(&partial), static_cast<size_t>(2 * d.B * d.S * d.Hq * D) * sizeof(float), stream()),
            "attentionGrad", "cudaMallocAsync (dk, dv partial sums)");
    }
    if (!attention_backward_wgmma(q, k, v, lse, delta, dout, dq, dk, dv, partial, qseg, kseg, d)) {
      if (rows > 0) {
        using C = DqTiles<D>;
        const size_t bytes = qtile_smem<T, C>(2);
        auto kernel = d.has_seg ? attention_dq_mma_kernel<T, C, true> : attention_dq_mma_kernel<T, C, false>;
        allow_smem(kernel, bytes, "attentionGrad");
        const dim3 grid(static_cast<unsigned>((d.T + C::BM - 1) / C::BM), static_cast<unsigned>(d.B * d.Hq));
        profiled(D == 64 ? "attentionGrad: dq (D 64)" : "attentionGrad: dq (D 128)",
                 [&] { kernel<<<grid, kThreads, bytes, stream()>>>(q, k, v, lse, delta, dout, dq, qseg, kseg, d); });
      }
      if (d.S > 0) {
        using C = DkvTiles<D>;
        const size_t bytes = dkv_smem<T, C>();
        auto kernel = d.has_seg ? attention_dkv_mma_kernel<T, C, true> : attention_dkv_mma_kernel<T, C, false>;
        allow_smem(kernel, bytes, "attentionGrad");
        const dim3 grid(static_cast<unsigned>((d.S + kTile - 1) / kTile), static_cast<unsigned>(d.B * d.Hq));
        profiled(D == 64 ? "attentionGrad: dk, dv (D 64)" : "attentionGrad: dk, dv (D 128)",
                 [&] { kernel<<<grid, kThreads, bytes, stream()>>>(q, k, v, lse, delta, dout, dk, dv, partial, qseg, kseg, d); });
      }
    }
    if (grouped) {
      attention_dkv_sum_kernel<T, D><<<blocks_for(d.B * d.S * d.Hkv * (D / 2), 256), 256, 0, stream()>>>(partial, dk, dv, d);
      check(cudaFreeAsync(partial, stream()), "attentionGrad", "cudaFreeAsync (dk, dv partial sums)");
    }
  });
  check_launch("attentionGrad");
  check(cudaFreeAsync(delta, stream()), "attentionGrad", "cudaFreeAsync (delta)");
  return true;
}

}  // namespace lmcuda
