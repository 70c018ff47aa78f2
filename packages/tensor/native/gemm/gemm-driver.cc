// The GotoBLAS/BLIS loops around the micro-kernel, and how the work is split over threads.
//
//   for jc in N by nc:            packed B panel (kc x nc) lives in L3
//     for pc in K by kc:          pack op(B)(pc.., jc..)
//       for ic in M by mc:        pack op(A)(ic.., pc..) (mc x kc) into L2
//         for jr in nc by nr:     one B sliver (kc x nr) is reused by every tile of the
//           for ir in mc by mr:   block while A slivers stream through the micro-kernel
//
// Block sizes come with each SIMD level (gemm-kernels.h); K is split into equal blocks, so
// K = 800 runs as 2 x 400 rather than 768 + 32.
//
// With threads, each jc step packs the whole K x nc panel of B once, shared: threads grab
// its slivers (every K block) from a counter. Once all are packed they grab work items (a
// block of rows times a chunk of the panel's columns) and run all K blocks of each, packing
// that row block of A into their own buffer. There are no barriers: a thread waits only for
// work it depends on (the panel packed; the last panel's items done before repacking), so a
// thread that wakes late or gets descheduled on a shared machine holds up no one unless it
// holds a piece of work.
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>
#include <thread>

#include "common/cpu-features.h"
#include "common/thread-pool.h"
#include "gemm/gemm-kernels.h"
#include "gemm/gemm-skinny.h"

namespace lmflow {
namespace gemm_detail {

const GemmKernel& select_kernel() {
#if defined(__x86_64__)
  switch (simd_level()) {
    case SimdLevel::kAvx512: return avx512_kernel();
    case SimdLevel::kAvx2: return avx2_kernel();
    default: break;
  }
#endif
  return scalar_kernel();
}

namespace {

// A 64-byte aligned float buffer that grows on demand and is kept for the next call.
class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  ~AlignedBuffer() { std::free(data_); }

  float* get(int64_t floats) {
    if (floats > capacity_) {
      std::free(data_);
      // Round up to whole cache lines; aligned_alloc needs a multiple of the alignment.
      size_t bytes = (static_cast<size_t>(floats) * sizeof(float) + 63) / 64 * 64;
      data_ = static_cast<float*>(std::aligned_alloc(64, bytes));
      if (!data_) {
        capacity_ = 0;
        throw std::bad_alloc();
      }
      capacity_ = floats;
    }
    return data_;
  }

 private:
  float* data_ = nullptr;
  int64_t capacity_ = 0;
};

// Per-thread packing buffers, reused across calls (pool threads live as long as the process).
struct Scratch {
  AlignedBuffer a, b, c;
};

Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

// c = beta * c (beta == 0 writes zeros without reading: old NaNs do not survive).
void scale_c(int64_t M, int64_t N, float beta, void* c, DType c_dtype, int64_t ldc) {
  for (int64_t i = 0; i < M; ++i) {
    void* row = offset_ptr(c, c_dtype, i * ldc);
    if (beta == 0.0f) {
      std::memset(row, 0, static_cast<size_t>(N) * dtype_size(c_dtype));
    } else if (beta != 1.0f) {
      for (int64_t j = 0; j < N; ++j) store_from_f32(row, c_dtype, j, beta * load_as_f32(row, c_dtype, j));
    }
  }
}

// c = alpha * tile + beta * c for a rows x cols corner of an f32 tile (row stride ldt).
void store_tile(const float* tile, int64_t ldt, int64_t rows, int64_t cols, void* c, DType c_dtype, int64_t ldc,
                float alpha, float beta) {
  for (int64_t i = 0; i < rows; ++i) {
    void* row = offset_ptr(c, c_dtype, i * ldc);
    const float* t = tile + i * ldt;
    if (beta == 0.0f) {
      for (int64_t j = 0; j < cols; ++j) store_from_f32(row, c_dtype, j, alpha * t[j]);
    } else {
      for (int64_t j = 0; j < cols; ++j) store_from_f32(row, c_dtype, j, alpha * t[j] + beta * load_as_f32(row, c_dtype, j));
    }
  }
}

// The block size (<= max_block, a multiple of unit) splitting `total` into the fewest
// near-equal blocks.
int64_t balanced_block(int64_t total, int64_t max_block, int64_t unit) {
  int64_t blocks = (total + max_block - 1) / max_block;
  int64_t block = (total + blocks - 1) / blocks;
  return std::min(max_block, (block + unit - 1) / unit * unit);
}

// C (mc x nc) = alpha * packed A (mc x kc) . packed B (kc x nc) + beta * C: B slivers outer,
// A slivers inner (one B sliver serves every tile of the row block in turn).
void macro_kernel(const GemmKernel& kr, int64_t mc, int64_t nc, int64_t kc, const float* ap, const float* bp, float alpha,
                  float beta, void* c, DType c_dtype, int64_t ldc) {
  const int mr = kr.mr, nr = kr.nr;
  alignas(64) float edge[32 * 32];  // one tile, for partial tiles and bf16/f16 C
  for (int64_t jr = 0; jr < nc; jr += nr) {
    const int64_t cols = std::min<int64_t>(nr, nc - jr);
    const float* b_sliver = bp + jr * kc;
    for (int64_t ir = 0; ir < mc; ir += mr) {
      const int64_t rows = std::min<int64_t>(mr, mc - ir);
      const float* a_sliver = ap + ir * kc;
      void* c_tile = offset_ptr(c, c_dtype, ir * ldc + jr);
      if (rows == mr && cols == nr && c_dtype == DType::kF32) {
        kr.tile(kc, a_sliver, b_sliver, static_cast<float*>(c_tile), ldc, alpha, beta);
      } else {
        kr.tile(kc, a_sliver, b_sliver, edge, nr, 1.0f, 0.0f);
        store_tile(edge, nr, rows, cols, c_tile, c_dtype, ldc, alpha, beta);
      }
    }
  }
}

// Operand views of a sub-block: op(A) from row m0, op(B) from column n0.
GemmOperand rows_from(const GemmOperand& a, int64_t m0) {
  GemmOperand out = a;
  out.data = offset_ptr(a.data, a.dtype, a.trans ? m0 : m0 * a.ld);
  return out;
}

GemmOperand cols_from(const GemmOperand& b, int64_t n0) {
  GemmOperand out = b;
  out.data = offset_ptr(b.data, b.dtype, b.trans ? n0 * b.ld : n0);
  return out;
}

// bf16/f16 C over several K blocks would round at every block: such products accumulate in
// f32 instead, one block of C at a time so that the buffer stays bounded (<= 8 MiB), and
// round once. Calls fn(i0, j0, rows, cols) for each block.
template <typename Fn>
void for_each_f32_block(int64_t M, int64_t N, Fn&& fn) {
  constexpr int64_t kRows = 1024, kCols = 2048;
  for (int64_t i0 = 0; i0 < M; i0 += kRows) {
    for (int64_t j0 = 0; j0 < N; j0 += kCols) fn(i0, j0, std::min(kRows, M - i0), std::min(kCols, N - j0));
  }
}

// The packed loops on the calling thread, C of any float dtype.
void run_packed(const GemmKernel& kr, int64_t M, int64_t N, int64_t K, float alpha, const GemmOperand& a,
                const GemmOperand& b, float beta, void* c, DType c_dtype, int64_t ldc) {
  Scratch& s = scratch();
  if (c_dtype != DType::kF32 && K > kr.kc) {
    for_each_f32_block(M, N, [&](int64_t i0, int64_t j0, int64_t rows, int64_t cols) {
      float* acc = s.c.get(rows * cols);
      run_packed(kr, rows, cols, K, alpha, rows_from(a, i0), cols_from(b, j0), 0.0f, acc, DType::kF32, cols);
      store_tile(acc, cols, rows, cols, offset_ptr(c, c_dtype, i0 * ldc + j0), c_dtype, ldc, 1.0f, beta);
    });
    return;
  }
  const int mr = kr.mr, nr = kr.nr;
  const int64_t kc_max = balanced_block(K, kr.kc, 8);
  const int64_t nc_max = balanced_block(N, kr.nc, nr);
  const int64_t mc_max = balanced_block(M, kr.mc, mr);
  float* bp = s.b.get(kc_max * ((nc_max + nr - 1) / nr * nr));
  float* ap = s.a.get(kc_max * ((mc_max + mr - 1) / mr * mr));

  for (int64_t jc = 0; jc < N; jc += nc_max) {
    const int64_t nc = std::min(nc_max, N - jc);
    for (int64_t pc = 0; pc < K; pc += kc_max) {
      const int64_t kc = std::min(kc_max, K - pc);
      const float beta_k = pc == 0 ? beta : 1.0f;  // later K blocks add to the first
      kr.pack_b(b, pc, jc, kc, nc, bp);
      for (int64_t ic = 0; ic < M; ic += mc_max) {
        const int64_t mc = std::min(mc_max, M - ic);
        kr.pack_a(a, ic, pc, mc, kc, ap);
        macro_kernel(kr, mc, nc, kc, ap, bp, alpha, beta_k, offset_ptr(c, c_dtype, ic * ldc + jc), c_dtype, ldc);
      }
    }
  }
}

// Everything on the calling thread: degenerate shapes, skinny shapes, the packed loops.
void run_serial(const GemmKernel& kr, int64_t M, int64_t N, int64_t K, float alpha, const GemmOperand& a,
                const GemmOperand& b, float beta, void* c, DType c_dtype, int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0 || alpha == 0.0f) {
    scale_c(M, N, beta, c, c_dtype, ldc);
    return;
  }
  if (skinny_gemm(M, N, K, alpha, a, b, beta, c, c_dtype, ldc)) return;
  run_packed(kr, M, N, K, alpha, a, b, beta, c, c_dtype, ldc);
}

// Below this many multiply-adds a call runs on one thread: waking the pool costs more.
constexpr int64_t kMinParallelMacs = 1 << 17;

inline void cpu_relax() {
#if defined(__x86_64__)
  __builtin_ia32_pause();
#endif
}

// Takes the next index below `end` from a counter shared by the threads, or -1 when none is
// left. Never moves the counter past `end`: the next panel's indices continue from there.
int64_t grab(std::atomic<int64_t>& next, int64_t end) {
  int64_t i = next.load(std::memory_order_relaxed);
  while (i < end && !next.compare_exchange_weak(i, i + 1, std::memory_order_relaxed)) {
  }
  return i < end ? i : -1;
}

// Waits until `done` reaches `target` (work finished by other threads, published with release).
void wait_for(const std::atomic<int64_t>& done, int64_t target) {
  for (int spins = 0; done.load(std::memory_order_acquire) < target; ++spins) {
    if (spins < 4096) cpu_relax();
    else std::this_thread::yield();
  }
}

constexpr int64_t kSliverGroup = 8;
// Floats in the shared B panel of the threaded path (32 MiB: a part of L3 on big parts).
constexpr int64_t kPanelFloats = int64_t{8} << 20;

// How one B panel's work is cut into items: near-equal row blocks of A (whole tiles) times
// near-equal column chunks of the panel.
struct Items {
  int64_t tiles_m, blocks, tiles_n, chunks;

  int64_t count() const { return blocks * chunks; }
  // Item i covers rows [*i0, *i1) and panel columns [*j0, *j1) (in elements).
  void range(const GemmKernel& kr, int64_t item, int64_t M, int64_t nc, int64_t* i0, int64_t* i1, int64_t* j0,
             int64_t* j1) const {
    const int64_t bi = item / chunks, ci = item % chunks;
    *i0 = tiles_m * bi / blocks * kr.mr;
    *i1 = std::min(M, tiles_m * (bi + 1) / blocks * kr.mr);
    *j0 = tiles_n * ci / chunks * kr.nr;
    *j1 = std::min(nc, tiles_n * (ci + 1) / chunks * kr.nr);
  }
};

// About 4 items per thread, in a count that is a multiple of the threads when the shape
// allows, so that threads grabbing them finish together; row blocks no taller than mc (their
// packed A stays in L2); the panel split into column chunks only when rows run short.
Items cut_items(const GemmKernel& kr, int64_t M, int64_t nc, int threads) {
  const int64_t tiles_m = (M + kr.mr - 1) / kr.mr, tiles_n = (nc + kr.nr - 1) / kr.nr;
  const int64_t wanted = 4 * static_cast<int64_t>(threads);
  const int64_t tallest = std::max<int64_t>(1, kr.mc / kr.mr);
  int64_t blocks = std::max((tiles_m + tallest - 1) / tallest, std::min(wanted, tiles_m));
  blocks = std::min(tiles_m, (blocks + threads - 1) / threads * threads);
  int64_t chunks = std::min(tiles_n, (wanted + blocks - 1) / blocks);
  while ((blocks * chunks) % threads != 0 && chunks < tiles_n) ++chunks;
  return {tiles_m, blocks, tiles_n, chunks};
}

// The packed loops on all pool threads; C f32, or bf16/f16 with a single K block.
void run_packed_parallel(const GemmKernel& kr, int64_t M, int64_t N, int64_t K, float alpha, const GemmOperand& a,
                         const GemmOperand& b, float beta, void* c, DType c_dtype, int64_t ldc) {
  const int nr = kr.nr;
  const int64_t kc_max = balanced_block(K, kr.kc, 8);
  const int64_t k_blocks = (K + kc_max - 1) / kc_max;
  // The panel holds all of K, so nc shrinks as K grows to keep it in L3.
  const int64_t nc_cap = std::max<int64_t>(kSliverGroup * nr, kPanelFloats / K / nr * nr);
  const int64_t nc_max = balanced_block(N, std::min<int64_t>(kr.nc, nc_cap), nr);
  const int64_t nc_pad = (nc_max + nr - 1) / nr * nr;
  float* bp = scratch().b.get(k_blocks * kc_max * nc_pad);  // the caller's, shared
  // Every thread hammers these: one cache line each. All count up across the panels.
  alignas(64) std::atomic<int64_t> next_unit{0};
  alignas(64) std::atomic<int64_t> units_done{0};
  alignas(64) std::atomic<int64_t> next_item{0};
  alignas(64) std::atomic<int64_t> items_done{0};

  parallel_run([&](int, int threads) {
    // threads is 1 when the pool is busy (a call from another JS thread): then run it all.
    float* ap = scratch().a.get(kc_max * kr.mc);
    int64_t units_before = 0, items_before = 0;  // of the earlier panels
    for (int64_t jc = 0; jc < N; jc += nc_max) {
      const int64_t nc = std::min(nc_max, N - jc);
      // Pack: units of kSliverGroup slivers of one K block, so each reads rows of B in runs.
      // The panel is rewritten only after every item of the previous one is done.
      const int64_t groups = (nc + kSliverGroup * nr - 1) / (kSliverGroup * nr), units = k_blocks * groups;
      wait_for(items_done, items_before);
      for (int64_t u; (u = grab(next_unit, units_before + units)) >= 0;) {
        u -= units_before;
        const int64_t pc = u / groups * kc_max, kc = std::min(kc_max, K - pc);
        const int64_t j0 = u % groups * kSliverGroup * nr;
        kr.pack_b(b, pc, jc + j0, kc, std::min(kSliverGroup * nr, nc - j0), bp + pc * nc_pad + j0 * kc);
        units_done.fetch_add(1, std::memory_order_release);
      }
      wait_for(units_done, units_before + units);

      const Items items = cut_items(kr, M, nc, threads);
      for (int64_t item; (item = grab(next_item, items_before + items.count())) >= 0;) {
        int64_t i0, i1, j0, j1;
        items.range(kr, item - items_before, M, nc, &i0, &i1, &j0, &j1);
        const int64_t mc = i1 - i0, ncols = j1 - j0;
        void* c_block = offset_ptr(c, c_dtype, i0 * ldc + jc + j0);
        for (int64_t pc = 0; mc > 0 && ncols > 0 && pc < K; pc += kc_max) {
          const int64_t kc = std::min(kc_max, K - pc);
          kr.pack_a(a, i0, pc, mc, kc, ap);
          macro_kernel(kr, mc, ncols, kc, ap, bp + pc * nc_pad + j0 * kc, alpha, pc == 0 ? beta : 1.0f, c_block, c_dtype, ldc);
        }
        items_done.fetch_add(1, std::memory_order_release);
      }
      units_before += units;
      items_before += items.count();
    }
  });
}

}  // namespace
}  // namespace gemm_detail

void gemm_serial(int64_t M, int64_t N, int64_t K, float alpha, const GemmOperand& a, const GemmOperand& b,
                 float beta, void* c, DType c_dtype, int64_t ldc) {
  using namespace gemm_detail;
  run_serial(select_kernel(), M, N, K, alpha, a, b, beta, c, c_dtype, ldc);
}

void gemm(int64_t M, int64_t N, int64_t K, float alpha, const GemmOperand& a, const GemmOperand& b, float beta,
          void* c, DType c_dtype, int64_t ldc) {
  using namespace gemm_detail;
  const GemmKernel& kr = select_kernel();
  if (M <= 0 || N <= 0) return;
  if (num_threads() == 1 || K <= 0 || alpha == 0.0f || M * N * K < kMinParallelMacs) {
    run_serial(kr, M, N, K, alpha, a, b, beta, c, c_dtype, ldc);
    return;
  }
  if (skinny_gemm_parallel(M, N, K, alpha, a, b, beta, c, c_dtype, ldc)) return;
  if (c_dtype != DType::kF32 && K > kr.kc) {
    for_each_f32_block(M, N, [&](int64_t i0, int64_t j0, int64_t rows, int64_t cols) {
      float* acc = scratch().c.get(rows * cols);
      run_packed_parallel(kr, rows, cols, K, alpha, rows_from(a, i0), cols_from(b, j0), 0.0f, acc, DType::kF32, cols);
      void* c_block = offset_ptr(c, c_dtype, i0 * ldc + j0);
      parallel_for(rows, std::max<int64_t>(1, 4096 / cols), [&](int64_t r0, int64_t r1) {
        store_tile(acc + r0 * cols, cols, r1 - r0, cols, offset_ptr(c_block, c_dtype, r0 * ldc), c_dtype, ldc, 1.0f, beta);
      });
    });
    return;
  }
  run_packed_parallel(kr, M, N, K, alpha, a, b, beta, c, c_dtype, ldc);
}

}  // namespace lmflow
