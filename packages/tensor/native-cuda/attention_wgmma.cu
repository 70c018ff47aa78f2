// FlashAttention's forward on Hopper's warpgroup products (wgmma, sm_90a; see wgmma.cuh) for
// bf16/f16 with head dims 64 and 128. mma.sync (attention_mma.cu) feeds the tensor cores from
// registers that every warp fills with ldmatrix, 16 rows at a time; wgmma reads its B operand
// (and A, when it is a tile) straight from shared memory for 64 rows of a warpgroup, and runs
// asynchronously beside the warpgroup's other instructions.
//
// A block of NWG warpgroups owns 64 * NWG query rows (16 per warp, laid out as in the mma.sync
// kernels, so the softmax step and row stores are shared); tiles of BN keys of K and V stream
// through a ring of STAGES swizzled shared-memory buffers (cp.async). Per tile a warpgroup
// computes S = Q K^T (both from shared memory), queues O += P V for the previous tile's
// probabilities (P from registers) behind it, and runs the online softmax while that product
// runs (FlashAttention-3's overlap within a warpgroup).
//
// Status: parity with the reference in test:gpu (LMFLOW_CUDA_ATTENTION=wgmma), but on an H200
// no faster than the mma.sync forward yet (0.39 against 0.38 ms at B 4, T 2048, 16 heads of
// 128; 0.16 against 0.11 ms at 32 heads of 64): Nsight Compute shows the tensor pipe busy
// about 21% of the time and the warps stalled on short dependencies ("wait") between barriers
// that keep the warpgroups in step. Hence opt-in. What it lacks against FlashAttention-3: a
// producer warp that loads through TMA with per-buffer barriers (so warpgroups drift apart
// and take turns on the tensor cores) and register reallocation (setmaxnreg).
#include <cstdlib>
#include <cstring>

#include "attention.cuh"
#include "attention_tiles.cuh"
#include "profile.h"
#include "wgmma.cuh"

namespace lmcuda {
namespace {

constexpr int kWarpgroup = 128;

// Copies rows t0..t0+ROWS-1 of head h of a (B, T, H, D) view (zeros past n) into a swizzled
// tile of ROWS rows (wgmma.cuh), 16 bytes per cp.async; each thread keeps one column chunk, so
// a quarter-warp writes one 128-byte row (its chunks permuted): no bank conflicts.
template <typename T, int D, int ROWS, int THREADS>
__device__ __forceinline__ void copy_rows_sw128(const View& x, int64_t b, int64_t h, int64_t t0, int64_t n, T* dst) {
  constexpr int CHUNKS = D / 8, STEP = THREADS / CHUNKS;
  static_assert(THREADS % CHUNKS == 0, "a row's chunks divide the block");
  const int j0 = threadIdx.x / CHUNKS, col = (threadIdx.x % CHUNKS) * 8;
  const int64_t stride = x.strides[1];
  const T* src = reinterpret_cast<const T*>(x.ptr) + (x.offset + b * x.strides[0] + h * x.strides[2] + col);
#pragma unroll
  for (int r = 0; r < (ROWS + STEP - 1) / STEP; r++) {
    const int row = j0 + r * STEP;
    if (ROWS % STEP != 0 && row >= ROWS) break;
    const int64_t t = t0 + row;
    const bool valid = t >= 0 && t < n;
    cp_async_16(dst + sw128(row, col, ROWS), valid ? src + t * stride : src, valid);
  }
}

// The shared-memory base rounded up to the 1024 bytes a swizzled tile needs.
__device__ __forceinline__ unsigned char* align_1024(unsigned char* p) {
  const uint32_t a = static_cast<uint32_t>(__cvta_generic_to_shared(p));
  return p + ((1024 - (a & 1023)) & 1023);
}

// A descriptor moved by a byte offset (the address field counts 16-byte units; shared
// addresses stay below 2^18, so the field never carries).
__device__ __forceinline__ uint64_t desc_at(uint64_t desc, uint32_t bytes) { return desc + (bytes >> 4); }

template <int NT>
__device__ __forceinline__ void pin_frags(uint32_t (&a)[NT][4]) {
#pragma unroll
  for (int j = 0; j < NT; j++) asm volatile("" : "+r"(a[j][0]), "+r"(a[j][1]), "+r"(a[j][2]), "+r"(a[j][3])::"memory");
}

// Tile shape: NWG warpgroups of 64 query rows, key tiles of BN rows in a ring of STAGES buffers.
template <int D_, int BN_, int NWG_, int STAGES_>
struct WgTiles {
  static constexpr int D = D_, BN = BN_, NWG = NWG_, STAGES = STAGES_, BM = 64 * NWG_, THREADS = kWarpgroup * NWG_;
};

template <typename T, typename C>
constexpr size_t forward_smem() {
  return 1024 + (C::BM + 2 * C::STAGES * C::BN) * C::D * sizeof(T) + (C::STAGES * C::BN + 2 * C::NWG * 4) * sizeof(int);
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
  // Queues tile it into buffer it % STAGES; every thread commits a group per call (empty past
  // the last tile), so waiting for all but the newest STAGES - 3 groups means tile it landed.
  auto issue = [&](int64_t it) {
    const int buf = static_cast<int>(it % C::STAGES);
    if (it >= tiles) {
      cp_async_commit();
      return;
    }
    const int64_t s0 = it * BN;
    copy_rows_sw128<T, D, BN, C::THREADS>(k, b, hk, s0, d.S, kbuf + buf * TILE);
    copy_rows_sw128<T, D, BN, C::THREADS>(v, b, hk, s0, d.S, vbuf + buf * TILE);
    if (threadIdx.x < BN) kseg_buf[buf * BN + threadIdx.x] = SEG && s0 + threadIdx.x < d.S ? seg_at(kseg, b, s0 + threadIdx.x) : 0;
    cp_async_commit();  // the first group carries Q too
  };
  for (int i = 0; i < C::STAGES - 2; i++) issue(i);
  // The warpgroup's segment range: skipping a tile and dropping the mask must hold for all of
  // its 64 rows (a wgmma is one instruction for the four warps).
  SegRange wr{0, 0};
  if constexpr (SEG) {
    int lo = INT_MAX, hi = INT_MIN;
    for (int i = 0; i < 2; i++) {
      if (rows[i] < d.T) qsg[i] = seg_at(qseg, b, rows[i]), lo = min(lo, qsg[i]), hi = max(hi, qsg[i]);
    }
    const SegRange r = warp_range(lo, hi);
    if (lane == 0) wg_seg[2 * (wg * 4 + warp)] = r.lo, wg_seg[2 * (wg * 4 + warp) + 1] = r.hi;
    __syncthreads();
    wr = {INT_MAX, INT_MIN};
    for (int w = 0; w < 4; w++) wr.lo = min(wr.lo, wg_seg[2 * (wg * 4 + w)]), wr.hi = max(wr.hi, wg_seg[2 * (wg * 4 + w) + 1]);
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
    pin_frags(p);
  };
  for (int64_t it = 0; it < tiles; it++) {
    cp_async_wait<C::STAGES - 3>();
    fence_async_smem();  // the copies (generic proxy) become visible to wgmma (async proxy)
    __syncthreads();     // tile it is in; every warpgroup is done with tile it - 2
    issue(it + C::STAGES - 2);  // into tile it - 2's buffer
    const int buf = static_cast<int>(it % C::STAGES);
    const int64_t s0 = it * BN;
    const int* kseg_s = kseg_buf + buf * BN;
    const SegRange kr = SEG ? tile_range(kseg_s, BN, lane) : SegRange{0, 0};
    const bool hidden = w0 >= d.T || (d.causal && s0 > w0 + 63 + shift) || (SEG && disjoint(wr, kr));
    if (hidden) {
      if (pending) {
        wgmma_fence();
        product_pv(pbuf);
        drain();
        pending = false;
      }
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
      softmax_scores<NB>(s, m, l, corr, sl, c, [&](int i, int kj) { return whole || sees(d, rows[i], s0 + kj, qsg[i], kseg_s[kj]); });
    };
    // One branch for both paths: ptxas does not relate two tests of `pending`, and would see
    // the outputs read while their product may still run (and serialize every product).
    wgmma_fence();
    if (pending) {
      product_qk();
      product_pv(pbuf);
      wgmma_wait<1>();  // the scores (groups finish in order)
      scores();
      drain();
    } else {
      product_qk();
      wgmma_wait<0>();
      scores();
    }
    rescale_rows<ND>(o, corr);
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
  cp_async_wait<0>();  // (only empty groups are left, or the Q copy when there are no tiles)
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

__global__ void wgmma_built_kernel(int* out) {
#ifdef LMCUDA_WGMMA
  *out = 1;
#else
  *out = 0;
#endif
}

// Whether to run the wgmma kernels: asked for with LMFLOW_CUDA_ATTENTION=wgmma (read on every
// call, so one process can time or test both), on compute capability 9.0, with a library built
// for sm_90a (LMFLOW_CUDA_ARCHS with 90). Opt-in while they are not faster than mma.sync.
bool wgmma_ready() {
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
  const char* e = std::getenv("LMFLOW_CUDA_ATTENTION");
  return e != nullptr && std::strcmp(e, "wgmma") == 0 && built;
}


// Timed on an H200 at tools/gpu/profile-attention.ts's shapes against (BN, NWG, STAGES) =
// (64, 2, 3), (64, 2, 4), (64, 3, 4), (128, 2, 3), (128, 2, 2): within 10%, this the fastest.
template <int D>
using ForwardWgTiles = WgTiles<D, 64, 3, 3>;

}  // namespace

bool attention_forward_wgmma(const View& q, const View& k, const View& v, const View& out, float* lse, const View& qseg,
                             const View& kseg, const AttnDims& d) {
  if (!wgmma_ready()) return false;
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
