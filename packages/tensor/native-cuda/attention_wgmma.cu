// FlashAttention on Hopper's warpgroup products (wgmma, sm_90a; see wgmma.cuh) for bf16/f16
// with head dims 64 and 128: the forward here, the backward further down. mma.sync
// (attention_mma.cu) feeds the tensor cores from registers that every warp fills with
// ldmatrix, 16 rows at a time; wgmma reads its B operand (and A, when it is a tile) straight
// from shared memory for 64 rows of a warpgroup, and runs asynchronously beside the
// warpgroup's other instructions.
//
// Forward: a block of NWG warpgroups owns 64 * NWG query rows (16 per warp, laid out as in the
// mma.sync kernels, so the softmax step and row stores are shared); tiles of BN keys of K and V stream
// through a ring of STAGES swizzled shared-memory buffers (cp.async; each buffer handed over by
// a "full" and an "empty" mbarrier). Per tile a warpgroup
// computes S = Q K^T (both from shared memory), queues O += P V for the previous tile's
// probabilities (P from registers) behind it, and runs the online softmax while that product
// runs (FlashAttention-3's overlap within a warpgroup).
//
// Where they run instead of the mma.sync kernels: wgmma_ready. What they lack against
// FlashAttention-3: a producer warp loading through TMA (here every thread copies with
// cp.async), warpgroups taking turns on the tensor cores, and register reallocation
// (setmaxnreg). The backward keeps two block barriers per tile (its warpgroups share dS^T for
// dQ): in Nsight Compute the one before dQ's product is its warps' largest stall.

#include "attention.cuh"
#include "attention_tiles.cuh"
#include "device.cuh"
#include "profile.h"
#include "wgmma.cuh"

namespace lmcuda {
namespace {

constexpr int kWarpgroup = 128;

// Rows t0..t0+ROWS-1 of head h (zeros past n) into a swizzled tile of ROWS rows (wgmma.cuh): a
// quarter-warp writes one 128-byte row, its chunks permuted, so no bank conflicts.
template <typename T, int D, int ROWS, int THREADS>
__device__ __forceinline__ void copy_rows_sw128(const View& x, int64_t b, int64_t h, int64_t t0, int64_t n, T* dst) {
  static_assert((THREADS / (D / 8)) % 8 == 0, "rows a thread copies are a multiple of the swizzle's 8 rows apart");
  copy_rows_async<T, D, ROWS, THREADS, 64>(x, b, h, t0, n, dst, [](int row, int col) { return sw128_within(row, col, ROWS); });
}

// The shared-memory base rounded up to the 1024 bytes a swizzled tile needs.
__device__ __forceinline__ unsigned char* align_1024(unsigned char* p) {
  const uint32_t a = static_cast<uint32_t>(__cvta_generic_to_shared(p));
  return p + ((1024 - (a & 1023)) & 1023);
}

// A descriptor moved by a byte offset (the address field counts 16-byte units; shared
// addresses stay below 2^18, so the field never carries).
__device__ __forceinline__ uint64_t desc_at(uint64_t desc, uint32_t bytes) { return desc + (bytes >> 4); }

// dst[0..1] += (x, y) atomically: one 8-byte atomic on sm_90 (the only target whose code runs
// these kernels; the others compile them but never launch them).
__device__ __forceinline__ void add_pair(float* dst, float x, float y) {
#ifdef LMCUDA_WGMMA
  atomicAdd(reinterpret_cast<float2*>(dst), make_float2(x, y));
#else
  atomicAdd(dst, x);
  atomicAdd(dst + 1, y);
#endif
}

// The union of the segment ranges of warps first..first+count-1 of the block (r: this warp's,
// the same in all its lanes), through scratch (2 ints per warp of the block). A barrier for
// the whole block.
__device__ __forceinline__ SegRange warps_range(SegRange r, int* scratch, int first, int count) {
  const int w = threadIdx.x / 32;
  if ((threadIdx.x & 31) == 0) scratch[2 * w] = r.lo, scratch[2 * w + 1] = r.hi;
  __syncthreads();
  SegRange u{INT_MAX, INT_MIN};
  for (int i = first; i < first + count; i++) u.lo = min(u.lo, scratch[2 * i]), u.hi = max(u.hi, scratch[2 * i + 1]);
  return u;
}

// Tile shape: NWG warpgroups of 64 query rows, key tiles of BN rows in a ring of STAGES buffers,
// LOOK tiles queued ahead. The buffers are handed over through a "full" and an "empty" mbarrier
// each, not a block barrier per tile, so warpgroups drift up to min(LOOK, STAGES - LOOK - 1)
// tiles apart (one's softmax beside another's products).
template <int D_, int BN_, int NWG_, int STAGES_, int LOOK_>
struct WgTiles {
  static constexpr int D = D_, BN = BN_, NWG = NWG_, STAGES = STAGES_, BM = 64 * NWG_, THREADS = kWarpgroup * NWG_, LOOK = LOOK_;
  static_assert(LOOK_ >= 1 && LOOK_ <= STAGES_ - 2, "a tile queued ahead needs a free buffer beside the two in use");
};

template <typename T, typename C>
constexpr size_t forward_smem() {
  return 1024 + (C::BM + 2 * C::STAGES * C::BN) * C::D * sizeof(T) + (C::STAGES * C::BN + 2 * C::NWG * 4) * sizeof(int) +
         2 * C::STAGES * sizeof(uint64_t) + 8;
}

// mbarriers (sm_90): count arrivals complete a phase; waits name the phase by its parity.
__device__ __forceinline__ void mbar_init(uint64_t* bar, uint32_t count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(smem_u32(bar)), "r"(count) : "memory");
}
__device__ __forceinline__ void mbar_arrive(uint64_t* bar) {
  asm volatile("{\n.reg .b64 state;\nmbarrier.arrive.shared::cta.b64 state, [%0];\n}\n" ::"r"(smem_u32(bar)) : "memory");
}
// Arrives once this thread's cp.async copies so far have landed (counts toward the init count).
__device__ __forceinline__ void mbar_arrive_copies(uint64_t* bar) {
  asm volatile("cp.async.mbarrier.arrive.noinc.shared::cta.b64 [%0];\n" ::"r"(smem_u32(bar)) : "memory");
}
// (try_wait is sm_90's: the other targets compile these kernels but never launch them.)
__device__ __forceinline__ void mbar_wait(uint64_t* bar, uint32_t parity) {
#ifdef LMCUDA_WGMMA
  const uint32_t a = smem_u32(bar);
  uint32_t done = 0;
  while (!done) {
    asm volatile("{\n.reg .pred p;\nmbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\nselp.u32 %0, 1, 0, p;\n}\n"
                 : "=r"(done)
                 : "r"(a), "r"(parity)
                 : "memory");
  }
#else
  __trap();
#endif
}

template <typename T, typename C, bool SEG>
__global__ void __launch_bounds__(C::THREADS, 1) attention_forward_wgmma_kernel(View q, View k, View v, View out, float* lse, View qseg,
                                                                               View kseg, AttnDims d) {
  constexpr int D = C::D, BN = C::BN, BM = C::BM, NB = BN / 8, ND = D / 8, TILE = BN * D;
  extern __shared__ unsigned char smem_raw[];
  T* qs = reinterpret_cast<T*>(align_1024(smem_raw));
  T* kbuf = qs + BM * D;
  T* vbuf = kbuf + C::STAGES * TILE;
  int* kseg_buf = reinterpret_cast<int*>(vbuf + C::STAGES * TILE);
  int* wg_seg = kseg_buf + C::STAGES * BN;  // per warp: its rows' segment range (lo, hi)
  // full[s] completes when every thread's copies into buffer s have landed, empty[s] when every
  // thread is done reading it.
  uint64_t* full = reinterpret_cast<uint64_t*>((reinterpret_cast<uintptr_t>(wg_seg + 2 * C::NWG * 4) + 7) & ~uintptr_t{7});
  uint64_t* empty = full + C::STAGES;
  if (threadIdx.x == 0) {
    for (int i = 0; i < C::STAGES; i++) mbar_init(full + i, C::THREADS), mbar_init(empty + i, C::THREADS);
  }
  __syncthreads();
  // wg through a shuffle: ptxas then knows it is the same across the warp, and branches on it
  // (around wgmma) are not divergent, which would serialize the products.
  const int wg = __shfl_sync(0xffffffffu, static_cast<int>(threadIdx.x) / kWarpgroup, 0);
  const int warp = (threadIdx.x / 32) % 4, lane = threadIdx.x & 31, g = lane >> 2, c = lane & 3;
  const int64_t q0 = (gridDim.x - 1 - blockIdx.x) * static_cast<int64_t>(BM), w0 = q0 + wg * 64;
  const int64_t b = blockIdx.y / d.Hq, h = blockIdx.y % d.Hq, hk = h / (d.Hq / d.Hkv), shift = d.S - d.T;
  const int64_t last_t = min(d.T - 1, q0 + BM - 1);
  const int64_t s_end = d.causal ? min(d.S, last_t + shift + 1) : d.S;
  const int64_t tiles = s_end > 0 ? (s_end + BN - 1) / BN : 0;
  const int64_t rows[2] = {w0 + warp * 16 + g, w0 + warp * 16 + g + 8};
  int qsg[2] = {-1, -1};
  copy_rows_sw128<T, D, BM, C::THREADS>(q, b, h, q0, d.T, qs);
  // Queues tile it into buffer it % STAGES, once every thread has read the buffer's previous
  // tile (it - STAGES); each thread's arrival on full completes when its copies have landed
  // (the segment ids by cp.async too, so that the arrival covers them).
  auto issue = [&](int64_t it) {
    if (it >= tiles) return;
    const int buf = static_cast<int>(it % C::STAGES);
    if (it >= C::STAGES) mbar_wait(empty + buf, static_cast<uint32_t>((it / C::STAGES + 1) & 1));
    const int64_t s0 = it * BN;
    copy_rows_sw128<T, D, BN, C::THREADS>(k, b, hk, s0, d.S, kbuf + buf * TILE);
    copy_rows_sw128<T, D, BN, C::THREADS>(v, b, hk, s0, d.S, vbuf + buf * TILE);
    if (SEG && threadIdx.x < BN) {
      const bool in = s0 + threadIdx.x < d.S;
      const int* src = reinterpret_cast<const int32_t*>(kseg.ptr) + kseg.offset + b * kseg.strides[0] + (in ? (s0 + threadIdx.x) * kseg.strides[1] : 0);
      cp_async_4(kseg_buf + buf * BN + threadIdx.x, src, in);
    }
    mbar_arrive_copies(full + buf);  // tile 0's arrival covers Q too
  };
  for (int i = 0; i < C::LOOK; i++) issue(i);
  // The warpgroup's segment range: skipping a tile and dropping the mask must hold for all of
  // its 64 rows (a wgmma is one instruction for the four warps).
  SegRange wr{0, 0};
  if constexpr (SEG) {
    int lo = INT_MAX, hi = INT_MIN;
    for (int i = 0; i < 2; i++) {
      if (rows[i] < d.T) qsg[i] = seg_at(qseg, b, rows[i]), lo = min(lo, qsg[i]), hi = max(hi, qsg[i]);
    }
    wr = warps_range(warp_range(lo, hi), wg_seg, wg * 4, 4);
  }
  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f}, o[ND][4];
#pragma unroll
  for (int n = 0; n < ND; n++) o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0.f;
  const float sl = d.scale * kLog2e;  // scores in log2 units: exp2 instead of exp
  // Q's rows of this warpgroup: column block kk / 4 of the BM-row tile, 32 bytes per k step.
  const uint64_t qdesc = sw128_desc(qs + wg * 64 * 64, 16, 1024);
  // The product with tile it - 1's probabilities (p, kept in registers) is queued behind tile
  // it's scores and runs while the softmax works on them (FlashAttention-3's overlap within a
  // warpgroup); the outputs are rescaled once it has finished. A tile the warpgroup skips
  // drains that product first, so the pending tile is always it - 1.
  uint32_t p[BN / 16][4];
  bool pending = false;
  int pbuf = 0;
  auto product_pv = [&](int vb) {
    const uint64_t vdesc = sw128_desc(vbuf + vb * TILE, BN * 128, 1024);
#pragma unroll
    for (int kk = 0; kk < BN / 16; kk++) Wgmma<T, D>::template rs<1>(o, p[kk], desc_at(vdesc, kk * 16 * 128), 1);
    wgmma_commit();
  };
  auto drain = [&] {
    wgmma_wait<0>();
    pin(o);
    pin(p);
  };
  for (int64_t it = 0; it < tiles; it++) {
    const int buf = static_cast<int>(it % C::STAGES);
    mbar_wait(full + buf, static_cast<uint32_t>((it / C::STAGES) & 1));
    fence_async_smem();  // the copies (generic proxy) become visible to wgmma (async proxy)
    const int64_t s0 = it * BN;
    const int* kseg_s = kseg_buf + buf * BN;
    const SegRange kr = SEG ? tile_range(kseg_s, BN, lane) : SegRange{0, 0};
    const bool hidden = w0 >= d.T || (d.causal && s0 > w0 + 63 + shift) || (SEG && disjoint(wr, kr));
    // Tile it + LOOK is queued once this tile's products are (below): the copying threads do not
    // hold them up.
    if (hidden) {
      issue(it + C::LOOK);
      if (pending) {
        wgmma_fence();
        product_pv(pbuf);
        drain();
        mbar_arrive(empty + pbuf);
        pending = false;
      }
      mbar_arrive(empty + buf);  // read by no one here
      continue;
    }
    const uint64_t kdesc = sw128_desc(kbuf + buf * TILE, 16, 1024);
    float s[NB][4];
    auto product_qk = [&] {
#pragma unroll
      for (int kk = 0; kk < D / 16; kk++) {
        const uint32_t col = ((kk * 16) & 63) * 2;  // bytes into the 128-byte rows of column block kk / 4
        const uint64_t a = desc_at(qdesc, (kk / 4) * BM * 128 + col), bk = desc_at(kdesc, (kk / 4) * BN * 128 + col);
        if (kk == 0) Wgmma<T, BN>::template ss_first<0, 0>(s, a, bk);
        else Wgmma<T, BN>::template ss<0, 0>(s, a, bk, 1);
      }
      wgmma_commit();
    };
    const bool whole = (!SEG || one_segment(wr, kr)) && s0 + BN <= d.S && w0 + 64 <= d.T && (!d.causal || s0 + BN - 1 <= w0 + shift);
    float corr[2];
    auto scores = [&] {
      pin(s);
      if (!whole) mask_scores<NB>(s, c, [&](int i, int kj) { return sees(d, rows[i], s0 + kj, qsg[i], kseg_s[kj]); });
      softmax_scores<NB>(s, m, l, corr, sl);
    };
    // One branch for both paths: ptxas does not relate two tests of `pending`, and would see
    // the outputs read while their product may still run (and serialize every product).
    wgmma_fence();
    if (pending) {
      product_qk();
      product_pv(pbuf);
      issue(it + C::LOOK);
      wgmma_wait<1>();  // the scores (groups finish in order)
      scores();
      drain();
      mbar_arrive(empty + pbuf);  // tile it - 1's K and V are read
    } else {
      product_qk();
      issue(it + C::LOOK);
      wgmma_wait<0>();
      scores();
    }
    // Only where a row's max moved (after the first tiles, seldom): a warp none of whose rows'
    // did skips the 64 multiplies (corr is exactly 1 then: ex2 of 0).
    if (__any_sync(0xffffffffu, corr[0] != 1.f || corr[1] != 1.f)) rescale_rows<ND>(o, corr);
#pragma unroll
    for (int kk = 0; kk < BN / 16; kk++) acc_to_a<T>(p[kk], s[2 * kk], s[2 * kk + 1]);
    pending = true;
    pbuf = buf;
  }
  if (pending) {
    wgmma_fence();
    product_pv(pbuf);
    drain();
  }
  cp_async_wait_all();  // the Q copy when there are no tiles
  for (int i = 0; i < 2; i++) {
    float sum = l[i];
    sum += __shfl_xor_sync(0xffffffffu, sum, 1);
    sum += __shfl_xor_sync(0xffffffffu, sum, 2);
    const int64_t t = rows[i];
    if (t >= d.T) continue;
    const float inv = sum > 0.f ? 1.f / sum : 0.f;
    store_row<T, ND>(row_out<T>(out, b, t, h), o, i, inv, c);
    if (c == 0) lse[(b * d.Hq + h) * d.T + t] = sum > 0.f ? m[i] * kLn2 + logf(sum) : -INFINITY;
  }
}

// The backward in one pass over key blocks (FlashAttention-2/3's order: 5 products, not the
// mma.sync kernels' 7). A block of two warpgroups owns 128 keys of one query head (64 each; K
// and V stay in shared memory); query tiles of 64 rows (Q, dO, lse, delta) stream past in a
// ring of STAGES buffers. Per tile, warpgroup w computes, for its keys:
//   S^T = K_w Q^T, then dP^T = V_w dO^T (keys x queries, all operands from shared memory),
//   P^T = exp(S^T - lse) while dP^T's product runs, then dV_w += P^T dO (P^T from registers,
//   dO as an N-major operand) queued behind it,
//   dS^T = P^T (dP^T - delta), then dK_w += dS^T Q (Q as N-major),
// and writes dS^T to shared memory; then, both halves written, it computes columns
// w * D/2.. of dQ = dS K over all 128 keys (dS^T read as an M-major operand, K as N-major)
// and adds them to the f32 dq_acc. The tiles of Q, dO and K each sit in shared memory once and
// serve in both orientations (wgmma.cuh). With grouped-query heads the block writes f32
// partial dK, dV sums (B, S, Hq, D) for attention_dkv_sum_kernel.
// dQ's sums go out either as float2 atomics from every thread or (BULK) through shared memory,
// one bulk reduction per row issued by one thread (two f32 tiles of BQ rows, DQ_STRIDE apart):
// on an H200 the bulk path was the faster at head dim 128 (backward 0.61-0.66 against
// 0.63-0.67 ms at B 4, T 2048, 16 heads) and the slower at 64 (0.28-0.35 against 0.24-0.28
// at 32 heads), where its 36 KiB of shared memory cost more than the atomics they save.
template <int D_, int STAGES_, bool BULK_>
struct WgBackTiles {
  static constexpr int D = D_, STAGES = STAGES_, BK = 128, BQ = 64, THREADS = 2 * kWarpgroup;
  static constexpr bool BULK = BULK_;
  // Rows 8 floats longer than D: a half-warp's float2 stores (4 rows x 4 lanes) hit distinct banks.
  static constexpr int DQ_STRIDE = D + 8;
};

template <typename T, typename C>
constexpr size_t backward_smem() {
  return 1024 + (C::BULK ? 2 * C::BQ * C::DQ_STRIDE * sizeof(float) : 0) +
         (2 * C::BK * C::D + 2 * C::STAGES * C::BQ * C::D + C::BK * C::BQ) * sizeof(T) +
         C::STAGES * C::BQ * (2 * sizeof(float) + sizeof(int)) + 16 * sizeof(int);
}

// dst[0 .. bytes / 4) += src[...] (f32) by the bulk-copy unit, reading shared memory
// asynchronously; a group per call of bulk_commit. The writers of src fence (fence_async_smem)
// before the barrier after which this is issued.
__device__ __forceinline__ void bulk_reduce_add_f32(float* dst, const float* src, uint32_t bytes) {
#ifdef LMCUDA_WGMMA
  asm volatile("cp.reduce.async.bulk.global.shared::cta.bulk_group.add.f32 [%0], [%1], %2;\n" ::"l"(dst), "r"(smem_u32(src)), "r"(bytes)
               : "memory");
#else
  __trap();
#endif
}
__device__ __forceinline__ void bulk_commit() {
#ifdef LMCUDA_WGMMA
  asm volatile("cp.async.bulk.commit_group;\n" ::: "memory");
#endif
}
// Waits until at most N of this thread's bulk groups still read shared memory (READ) or are
// still running at all.
template <int N, bool READ>
__device__ __forceinline__ void bulk_wait() {
#ifdef LMCUDA_WGMMA
  if constexpr (READ) asm volatile("cp.async.bulk.wait_group.read %0;\n" ::"n"(N) : "memory");
  else asm volatile("cp.async.bulk.wait_group %0;\n" ::"n"(N) : "memory");
#endif
}

template <typename T, typename C, bool SEG>
__global__ void __launch_bounds__(C::THREADS, 1) attention_backward_wgmma_kernel(View q, View k, View v, const float* lse, const float* delta,
                                                                                View dout, View dk, View dv, float* partial, float* dq_acc,
                                                                                View qseg, View kseg, AttnDims d) {
  constexpr int D = C::D, BK = C::BK, BQ = C::BQ, NQ = BQ / 8, ND = D / 8, QT = BQ * D, DQN = D / 2;
  extern __shared__ unsigned char smem_raw[];
  float* dq_s = reinterpret_cast<float*>(align_1024(smem_raw));  // BULK: two tiles of dQ rows
  T* ks = reinterpret_cast<T*>(dq_s + (C::BULK ? 2 * BQ * C::DQ_STRIDE : 0));
  T* vs = ks + BK * D;
  T* qbuf = vs + BK * D;
  T* gbuf = qbuf + C::STAGES * QT;
  T* dss = gbuf + C::STAGES * QT;  // dS^T: BK keys x BQ queries, swizzled
  float* lse_buf = reinterpret_cast<float*>(dss + BK * BQ);
  float* delta_buf = lse_buf + C::STAGES * BQ;
  int* qseg_buf = reinterpret_cast<int*>(delta_buf + C::STAGES * BQ);
  int* kseg_red = qseg_buf + C::STAGES * BQ;  // per warp: its keys' segment range
  const int wg = __shfl_sync(0xffffffffu, static_cast<int>(threadIdx.x) / kWarpgroup, 0);
  const int warp = (threadIdx.x / 32) % 4, lane = threadIdx.x & 31, g = lane >> 2, c = lane & 3;
  const int64_t s_first = blockIdx.x * static_cast<int64_t>(BK), w_first = s_first + wg * 64;
  const int64_t b = blockIdx.y / d.Hq, h = blockIdx.y % d.Hq, hk = h / (d.Hq / d.Hkv), shift = d.S - d.T;
  const int64_t keys[2] = {w_first + warp * 16 + g, w_first + warp * 16 + g + 8};
  // Causal: queries before the block's first key minus (S - T) never see it.
  const int64_t t_begin = d.causal ? max(static_cast<int64_t>(0), s_first - shift) : 0;
  const int64_t tiles = t_begin < d.T ? (d.T - t_begin + BQ - 1) / BQ : 0;
  copy_rows_sw128<T, D, BK, C::THREADS>(k, b, hk, s_first, d.S, ks);
  copy_rows_sw128<T, D, BK, C::THREADS>(v, b, hk, s_first, d.S, vs);
  auto issue = [&](int64_t it) {
    const int buf = static_cast<int>(it % C::STAGES);
    if (it < tiles) {
      const int64_t t0 = t_begin + it * BQ;
      copy_rows_sw128<T, D, BQ, C::THREADS>(q, b, h, t0, d.T, qbuf + buf * QT);
      copy_rows_sw128<T, D, BQ, C::THREADS>(dout, b, h, t0, d.T, gbuf + buf * QT);
      copy_query_stats<BQ, SEG>(lse, delta, qseg, d, b, h, t0, lse_buf + buf * BQ, delta_buf + buf * BQ, qseg_buf + buf * BQ);
    }
    cp_async_commit();  // the first group carries K and V too
  };
  for (int i = 0; i < C::STAGES - 1; i++) issue(i);
  int ksg[2] = {-1, -1};
  SegRange br{0, 0};  // the block's keys' segment range (before S)
  if constexpr (SEG) {
    int lo = INT_MAX, hi = INT_MIN;
    for (int i = 0; i < 2; i++) {
      if (keys[i] < d.S) ksg[i] = seg_at(kseg, b, keys[i]), lo = min(lo, ksg[i]), hi = max(hi, ksg[i]);
    }
    br = warps_range(warp_range(lo, hi), kseg_red, 0, C::THREADS / 32);
  }
  float dka[ND][4], dva[ND][4];
#pragma unroll
  for (int n = 0; n < ND; n++) dka[n][0] = dka[n][1] = dka[n][2] = dka[n][3] = dva[n][0] = dva[n][1] = dva[n][2] = dva[n][3] = 0.f;
  const float sl = d.scale * kLog2e;
  const uint64_t kdesc = sw128_desc(ks + wg * 64 * 64, 16, 1024), vdesc = sw128_desc(vs + wg * 64 * 64, 16, 1024);
  // dQ's B: K as N-major (rows are the 128 keys), columns w * D/2.. of this warpgroup.
  const uint64_t kndesc = desc_at(sw128_desc(ks, BK * 128, 1024), (wg * DQN / 64) * BK * 128 + (wg * DQN % 64) * 2);
  const uint64_t dsdesc = sw128_desc(dss, BK * 128, 1024);  // dS^T as an M-major A (one 64-column block)
  // BULK: the last tile whose dQ rows wait in dq_s to be sent (-1 if none), and how many tiles
  // have written rows: the n-th writes buffer n & 1, so its previous rows are the (n-2)-th's,
  // sent before the (n-1)-th's, and bulk_wait<1> (all but the newest group done reading) frees it.
  // (Alternating by tile index instead would let a skipped tile put the newest group on the
  // buffer about to be written.)
  int64_t dq_tile = -1;
  int dq_count = 0;
  auto send_dq = [&] {
    if (dq_tile < 0) return;
    const int64_t t = t_begin + dq_tile * BQ + threadIdx.x;
    if (threadIdx.x < BQ && t < d.T) {
      bulk_reduce_add_f32(dq_acc + ((b * d.T + t) * d.Hq + h) * D, dq_s + ((dq_count - 1) & 1) * BQ * C::DQ_STRIDE + threadIdx.x * C::DQ_STRIDE,
                          D * sizeof(float));
      bulk_commit();
    }
    dq_tile = -1;
  };
  for (int64_t it = 0; it < tiles; it++) {
    cp_async_wait<C::STAGES - 2>();
    fence_async_smem();
    __syncthreads();  // tile it is in; every warpgroup is done with tile it - 1 (and with dS)
    if constexpr (C::BULK) send_dq();  // the previous tile's rows, written and fenced before the barrier
    const int buf = static_cast<int>(it % C::STAGES);
    const T* qs = qbuf + buf * QT;
    const T* gs = gbuf + buf * QT;
    const float* lse_s = lse_buf + buf * BQ;
    const float* delta_s = delta_buf + buf * BQ;
    const int* qseg_s = qseg_buf + buf * BQ;
    const int64_t t0 = t_begin + it * BQ;
    const SegRange qr = SEG ? tile_range(qseg_s, BQ, lane) : SegRange{0, 0};
    // The same for every thread of the block: no key of the block is seen by the tile.
    if (s_first >= d.S || (d.causal && t0 + BQ - 1 + shift < s_first) || (SEG && disjoint(qr, br))) {
      issue(it + C::STAGES - 1);
      continue;
    }
    const uint64_t qdesc = sw128_desc(qs, 16, 1024), gdesc = sw128_desc(gs, 16, 1024);
    // dO and Q as N-major operands: rows are the queries (k), 64-column blocks BQ rows apart.
    const uint64_t gndesc = sw128_desc(gs, BQ * 128, 1024), qndesc = sw128_desc(qs, BQ * 128, 1024);
    // acc = A B^T (keys x queries) for A = K_w or V_w, B = Q or dO, both K-major, as one group.
    auto product_t = [&](float (&acc)[NQ][4], uint64_t adesc, uint64_t bdesc) {
#pragma unroll
      for (int kk = 0; kk < D / 16; kk++) {
        const uint32_t col = ((kk * 16) & 63) * 2;
        const uint32_t ao = (kk / 4) * BK * 128 + col, bo = (kk / 4) * BQ * 128 + col;
        if (kk == 0) Wgmma<T, BQ>::template ss_first<0, 0>(acc, desc_at(adesc, ao), desc_at(bdesc, bo));
        else Wgmma<T, BQ>::template ss<0, 0>(acc, desc_at(adesc, ao), desc_at(bdesc, bo), 1);
      }
      wgmma_commit();
    };
    // S^T and dP^T as two groups: the exponentials need only the first.
    float st[NQ][4], dpt[NQ][4];
    wgmma_fence();
    product_t(st, kdesc, qdesc);
    product_t(dpt, vdesc, gdesc);
    // The next tile into tile it - 1's buffer, while the products run (its copying threads
    // would otherwise hold up this tile's products).
    issue(it + C::STAGES - 1);
    wgmma_wait<1>();  // S^T
    pin(st);
    const bool whole = (!SEG || one_segment(qr, br)) && w_first + 64 <= d.S && t0 + BQ <= d.T && (!d.causal || w_first + 63 <= t0 + shift);
    // Hidden scores become -inf, so that their probability below is 0 (rows are keys here,
    // columns queries). A query that sees nothing (lse -inf) sees none of these keys either.
    if (!whole) mask_scores<NQ>(st, c, [&](int i, int qj) { return sees(d, t0 + qj, keys[i], SEG ? qseg_s[qj] : 0, ksg[i]); });
    // P^T = exp(S^T - lse); queries 2c and 2c + 1 of each 8 are the lane's columns. -lse is
    // capped to a finite value, so that a hidden score of a query that sees nothing gives
    // exp(-inf) = 0, not exp(-inf + inf).
#pragma unroll
    for (int j = 0; j < NQ; j++) {
      const float2 l2 = *reinterpret_cast<const float2*>(lse_s + j * 8 + 2 * c);
      const float nl[2] = {fminf(-l2.x * kLog2e, FLT_MAX), fminf(-l2.y * kLog2e, FLT_MAX)};
#pragma unroll
      for (int e = 0; e < 4; e++) st[j][e] = ex2_ftz(fmaf(st[j][e], sl, nl[e & 1]));
    }
    uint32_t pa[BQ / 16][4], dsa[BQ / 16][4];
#pragma unroll
    for (int kq = 0; kq < BQ / 16; kq++) acc_to_a<T>(pa[kq], st[2 * kq], st[2 * kq + 1]);
    // dV += P^T dO, queued behind dP^T's product.
    wgmma_fence();
#pragma unroll
    for (int kq = 0; kq < BQ / 16; kq++) Wgmma<T, D>::template rs<1>(dva, pa[kq], desc_at(gndesc, kq * 16 * 128), 1);
    wgmma_commit();
    wgmma_wait<1>();  // dP^T (dV's product may still run)
    pin(dpt);
    // dS^T = P^T (dP^T - delta).
#pragma unroll
    for (int j = 0; j < NQ; j++) {
      const float2 dl = *reinterpret_cast<const float2*>(delta_s + j * 8 + 2 * c);
      const float dn[2] = {dl.x, dl.y};
#pragma unroll
      for (int e = 0; e < 4; e++) dpt[j][e] = st[j][e] * (dpt[j][e] - dn[e & 1]);
    }
#pragma unroll
    for (int kq = 0; kq < BQ / 16; kq++) acc_to_a<T>(dsa[kq], dpt[2 * kq], dpt[2 * kq + 1]);
    // dK += dS^T Q.
    wgmma_fence();
#pragma unroll
    for (int kq = 0; kq < BQ / 16; kq++) Wgmma<T, D>::template rs<1>(dka, dsa[kq], desc_at(qndesc, kq * 16 * 128), 1);
    wgmma_commit();
    // dS^T to shared memory (row = key, column = query), for dQ.
#pragma unroll
    for (int j = 0; j < NQ; j++) {
#pragma unroll
      for (int i = 0; i < 2; i++) {
        const int key = wg * 64 + warp * 16 + g + 8 * i, col = j * 8 + 2 * c;
        *reinterpret_cast<uint32_t*>(dss + sw128(key, col, BK)) = pack_pair<T>(dpt[j][2 * i], dpt[j][2 * i + 1]);
      }
    }
    fence_async_smem();
    // BULK: the rows sent two tiles ago have left the buffer this tile writes (at most the
    // newest group, last tile's, still reads).
    if constexpr (C::BULK) {
      if (threadIdx.x < BQ) bulk_wait<1, true>();
    }
    __syncthreads();  // both halves of dS^T written
    float dqa[DQN / 8][4];
    wgmma_fence();
#pragma unroll
    for (int kk = 0; kk < BK / 16; kk++) {
      if (kk == 0) Wgmma<T, DQN>::template ss_first<1, 1>(dqa, desc_at(dsdesc, kk * 16 * 128), desc_at(kndesc, kk * 16 * 128));
      else Wgmma<T, DQN>::template ss<1, 1>(dqa, desc_at(dsdesc, kk * 16 * 128), desc_at(kndesc, kk * 16 * 128), 1);
    }
    wgmma_commit();
    wgmma_wait<0>();
    pin(dva);
    pin(dka);
    pin(dqa);
    pin(pa);
    pin(dsa);
    if constexpr (C::BULK) {
      float* rows = dq_s + (dq_count & 1) * BQ * C::DQ_STRIDE + wg * DQN;
#pragma unroll
      for (int i = 0; i < 2; i++) {
        float* dst = rows + (warp * 16 + g + 8 * i) * C::DQ_STRIDE;
#pragma unroll
        for (int n = 0; n < DQN / 8; n++) *reinterpret_cast<float2*>(dst + n * 8 + 2 * c) = make_float2(dqa[n][2 * i], dqa[n][2 * i + 1]);
      }
      dq_tile = it;
      dq_count++;
    } else {
#pragma unroll
      for (int i = 0; i < 2; i++) {
        const int64_t t = t0 + warp * 16 + g + 8 * i;
        if (t >= d.T) continue;
        float* dst = dq_acc + ((b * d.T + t) * d.Hq + h) * D + wg * DQN;
#pragma unroll
        for (int n = 0; n < DQN / 8; n++) add_pair(dst + n * 8 + 2 * c, dqa[n][2 * i], dqa[n][2 * i + 1]);
      }
    }
  }
  if constexpr (C::BULK) {
    fence_async_smem();
    __syncthreads();
    send_dq();
    if (threadIdx.x < BQ) bulk_wait<0, false>();  // before the block's shared memory goes away
  }
  cp_async_wait<0>();
  store_dkv<T, ND>(dka, dva, keys, b, h, hk, partial, dk, dv, d, c);
}

// dq (B, T, Hq, D) = scale * dq_acc: a thread per 8 columns (32 bytes in, 16 out).
template <typename T>
__global__ void attention_dq_convert_kernel(const float* dq_acc, View dq, AttnDims d) {
  const int64_t chunks = d.D / 8;
  LMCUDA_FOR(j, d.B * d.T * d.Hq * chunks) {
    const int64_t row = j / chunks, i = (j % chunks) * 8;
    const int64_t h = row % d.Hq, t = (row / d.Hq) % d.T, b = row / (d.Hq * d.T);
    const float4 a = *reinterpret_cast<const float4*>(dq_acc + row * d.D + i);
    const float4 c = *reinterpret_cast<const float4*>(dq_acc + row * d.D + i + 4);
    const uint4 packed{pack_pair<T>(a.x * d.scale, a.y * d.scale), pack_pair<T>(a.z * d.scale, a.w * d.scale),
                       pack_pair<T>(c.x * d.scale, c.y * d.scale), pack_pair<T>(c.z * d.scale, c.w * d.scale)};
    *reinterpret_cast<uint4*>(row_out<T>(dq, b, t, h) + i) = packed;
  }
}

__global__ void wgmma_built_kernel(int* out) {
#ifdef LMCUDA_WGMMA
  *out = 1;
#else
  *out = 0;
#endif
}

// Whether to run the wgmma kernels: on compute capability 9.0 with a library built for sm_90a
// (LMFLOW_CUDA_ARCHS with 90), by default the backward and the forward at head dim 128, which
// on an H200 beat the mma.sync kernels (at B 4, T 2048, 16 heads of 128: the backward 0.59-0.61
// against 1.07 ms with its helpers, the forward 0.21-0.25 against 0.32; the backward at 32
// heads of 64 0.23-0.28 against 0.30), but not the forward at 64 (0.14 against 0.10-0.11).
// LMFLOW_CUDA_ATTENTION=wgmma or =mma
// picks one set for everything (read on every call, so one process can time or test both).
bool wgmma_ready(bool forward, int64_t D) {
  static const bool built = [] {
    int dev = 0, major = 0, minor = 0;
    if (cudaGetDevice(&dev) != cudaSuccess) return false;
    cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev);
    cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev);
    if (major != 9 || minor != 0) return false;
    int* flag = nullptr;
    int host = 0;
    if (cudaMalloc(&flag, sizeof(int)) != cudaSuccess) return false;
    wgmma_built_kernel<<<1, 1>>>(flag);
    const bool ok = cudaMemcpy(&host, flag, sizeof(int), cudaMemcpyDeviceToHost) == cudaSuccess && host == 1;
    cudaFree(flag);
    return ok;
  }();
  if (!built) return false;
  if (attention_kernels_requested("wgmma")) return true;
  if (attention_kernels_requested("mma")) return false;
  return !forward || D == 128;
}

template <int D>
using ForwardWgTiles = WgTiles<D, 64, 3, 4, 2>;

template <int D>
using BackwardWgTiles = WgBackTiles<D, 2, D == 128>;

}  // namespace

bool attention_backward_wgmma(const View& q, const View& k, const View& v, const float* lse, const float* delta, const View& dout,
                              const View& dq, const View& dk, const View& dv, float* partial, const View& qseg, const View& kseg,
                              const AttnDims& d) {
  if (!wgmma_ready(false, d.D)) return false;
  const int64_t rows = d.B * d.T * d.Hq;
  float* dq_acc = nullptr;
  const size_t bytes_acc = static_cast<size_t>(rows > 0 ? rows : 1) * d.D * sizeof(float);
  check(cudaMallocAsync(reinterpret_cast<void**>(&dq_acc), bytes_acc, stream()), "attentionGrad", "cudaMallocAsync (dq sums)");
  check(cudaMemsetAsync(dq_acc, 0, bytes_acc, stream()), "attentionGrad", "cudaMemsetAsync (dq sums)");
  dispatch(q.dtype, d.D, [&](auto t, auto dm) {
    using T = decltype(t);
    using C = BackwardWgTiles<decltype(dm)::value>;
    if (d.S > 0 && rows > 0) {
      const size_t bytes = backward_smem<T, C>();
      auto kernel = d.has_seg ? attention_backward_wgmma_kernel<T, C, true> : attention_backward_wgmma_kernel<T, C, false>;
      check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes)), "attentionGrad", "cudaFuncSetAttribute");
      const dim3 grid(static_cast<unsigned>((d.S + C::BK - 1) / C::BK), static_cast<unsigned>(d.B * d.Hq));
      profiled(d.D == 64 ? "attentionGrad: wgmma (D 64)" : "attentionGrad: wgmma (D 128)",
               [&] { kernel<<<grid, C::THREADS, bytes, stream()>>>(q, k, v, lse, delta, dout, dk, dv, partial, dq_acc, qseg, kseg, d); });
    }
    if (rows > 0) attention_dq_convert_kernel<T><<<blocks_for(rows * (d.D / 8), 256), 256, 0, stream()>>>(dq_acc, dq, d);
  });
  check_launch("attentionGrad");
  check(cudaFreeAsync(dq_acc, stream()), "attentionGrad", "cudaFreeAsync (dq sums)");
  return true;
}

bool attention_forward_wgmma(const View& q, const View& k, const View& v, const View& out, float* lse, const View& qseg,
                             const View& kseg, const AttnDims& d) {
  if (!wgmma_ready(true, d.D)) return false;
  if (profiling()) profile_label(d.D == 64 ? "attention forward wgmma (D 64)" : "attention forward wgmma (D 128)");
  dispatch(q.dtype, d.D, [&](auto t, auto dm) {
    using T = decltype(t);
    using C = ForwardWgTiles<decltype(dm)::value>;
    const dim3 grid(static_cast<unsigned>((d.T + C::BM - 1) / C::BM), static_cast<unsigned>(d.B * d.Hq));
    const size_t bytes = forward_smem<T, C>();
    auto kernel = d.has_seg ? attention_forward_wgmma_kernel<T, C, true> : attention_forward_wgmma_kernel<T, C, false>;
    check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes)), "attention", "cudaFuncSetAttribute");
    kernel<<<grid, C::THREADS, bytes, stream()>>>(q, k, v, out, lse, qseg, kseg, d);
  });
  check_launch("attention");
  return true;
}

}  // namespace lmcuda
