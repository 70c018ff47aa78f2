// x @ op(W) with W in NF4, never materialising W: each task dequantizes a small panel of W into
// a thread-local f32 buffer and multiplies it with register-tiled SIMD loops.
//
// transpose_w (forward, out (M, N) = x (M, K) @ W^T), few rows of x: a panel is 16 rows of W,
// each a contiguous run of K elements; 4x4 tiles of dot products over K (x rows against W
// rows), no transpose needed (the decode-time GEMV shape).
// Otherwise the panel is a K x 32 (forward: W^T, transposed while dequantizing) or N x 32
// (input gradient, out (M, K) = x (M, N) @ W: W's columns) row-major block, multiplied with
// 6x32 tiles of outer products.
// Tasks are (panel, block of rows of x) pairs over the thread pool, so both large N and
// large M keep every thread busy; a thread dequantizes a panel once for its consecutive tasks.
#include <algorithm>
#include <vector>

#include "common/thread-pool.h"
#include "optim/nf4-format.h"
#include "optim/nf4-tiles.h"
#include "optim/simd.h"

namespace lmflow {
namespace optim {
namespace {

constexpr int64_t kRowPanel = 16;  // dot-product forward: rows of W per panel
// From this many rows of x on, the forward transposes its panels and uses the outer-product
// tiles: x is then streamed once per 32 rows of W instead of once per 16, and the transpose
// is amortised over enough rows.
constexpr int64_t kOuterMinRows = 128;

struct Problem {
  int64_t M, N, K;
  const void* x;
  DType x_dtype;
  const Nf4Parts* w;
  void* out;
  DType out_dtype;
  float alpha, beta;
  SimdLevel level;
};

inline void write_out(const Problem& p, int64_t index, float acc) {
  float value = p.alpha * acc;
  if (p.beta != 0) value += p.beta * load_one(p.out, p.out_dtype, index);
  store_one(p.out, p.out_dtype, index, value);
}

// Rows [m0, m0 + rows) of x as f32: the data itself when x is f32, else converted into scratch.
const float* x_rows(const Problem& p, int64_t width, int64_t m0, int64_t rows, std::vector<float>& scratch) {
  if (p.x_dtype == DType::kF32) return static_cast<const float*>(p.x) + m0 * width;
  scratch.resize(rows * width);
  load_f32(p.x, p.x_dtype, m0 * width, rows * width, scratch.data());
  return scratch.data();
}

// How many rows of x one task takes: all of them when panels alone give every thread several
// tasks, else fewer (a multiple of the tile height) so that M is split too.
int64_t rows_per_task(int64_t M, int64_t panels, int64_t tile_rows) {
  const int64_t wanted = 4 * static_cast<int64_t>(num_threads());
  if (panels >= wanted || M <= tile_rows) return std::max<int64_t>(M, 1);
  const int64_t splits = std::min((wanted + panels - 1) / panels, (M + tile_rows - 1) / tile_rows);
  const int64_t rows = (M + splits - 1) / splits;
  return (rows + tile_rows - 1) / tile_rows * tile_rows;
}

void forward(const Problem& p) {
  const int64_t M = p.M, N = p.N, K = p.K;
  const int64_t panels = (N + kRowPanel - 1) / kRowPanel;
  const int64_t block_rows = rows_per_task(M, panels, kDotRows);
  const int64_t blocks = (M + block_rows - 1) / block_rows;
  parallel_for(panels * blocks, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> wp(kRowPanel * K);
    std::vector<float> scratch;
    float tile[kDotRows * kDotCols];
    int64_t loaded = -1;
    for (int64_t task = begin; task < end; ++task) {
      const int64_t panel = task / blocks;
      const int64_t n0 = panel * kRowPanel;
      const int64_t np = std::min(kRowPanel, N - n0);
      if (panel != loaded) {
        for (int64_t j = 0; j < np; ++j) nf4_dequantize_range(*p.w, (n0 + j) * K, K, wp.data() + j * K);
        loaded = panel;
      }
      const int64_t m_begin = (task % blocks) * block_rows;
      const int64_t m_end = std::min(M, m_begin + block_rows);
      for (int64_t m0 = m_begin; m0 < m_end; m0 += kDotRows) {
        const int64_t mr = std::min<int64_t>(kDotRows, m_end - m0);
        const float* xr = x_rows(p, K, m0, mr, scratch);
        // A partial tile repeats its last row or column; the copies are computed, not written.
        const float* rows[kDotRows];
        for (int i = 0; i < kDotRows; ++i) rows[i] = xr + std::min<int64_t>(i, mr - 1) * K;
        for (int64_t j0 = 0; j0 < np; j0 += kDotCols) {
          const int64_t nr = std::min<int64_t>(kDotCols, np - j0);
          const float* cols[kDotCols];
          for (int j = 0; j < kDotCols; ++j) cols[j] = wp.data() + (j0 + std::min<int64_t>(j, nr - 1)) * K;
          dot_tile(p.level, rows, cols, K, tile);
          for (int64_t i = 0; i < mr; ++i)
            for (int64_t j = 0; j < nr; ++j) write_out(p, (m0 + i) * N + n0 + j0 + j, tile[i * kDotCols + j]);
        }
      }
    }
  });
}

// out (M, cols) = alpha * x (M, R) @ B (R, cols) + beta * out, with B produced 32 columns at a
// time by fill(c0, cc, block): columns [c0, c0 + cc) of B into block, R x 32 row-major, with
// the columns past cc zero-filled.
template <typename Fill>
void outer_product(const Problem& p, int64_t R, int64_t cols, const Fill& fill) {
  const int64_t M = p.M;
  const int64_t panels = (cols + kColPanel - 1) / kColPanel;
  const int64_t block_rows = rows_per_task(M, panels, kOuterRows);
  const int64_t blocks = (M + block_rows - 1) / block_rows;
  parallel_for(panels * blocks, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> block(R * kColPanel);
    std::vector<float> scratch;
    float tile[kOuterRows * kColPanel];
    int64_t loaded = -1;
    for (int64_t task = begin; task < end; ++task) {
      const int64_t panel = task / blocks;
      const int64_t c0 = panel * kColPanel;
      const int64_t cc = std::min(kColPanel, cols - c0);
      if (panel != loaded) {
        fill(c0, cc, block.data());
        loaded = panel;
      }
      const int64_t m_begin = (task % blocks) * block_rows;
      const int64_t m_end = std::min(M, m_begin + block_rows);
      for (int64_t m0 = m_begin; m0 < m_end; m0 += kOuterRows) {
        const int64_t mr = std::min<int64_t>(kOuterRows, m_end - m0);
        const float* xr = x_rows(p, R, m0, mr, scratch);
        const float* rows[kOuterRows];
        for (int i = 0; i < kOuterRows; ++i) rows[i] = xr + std::min<int64_t>(i, mr - 1) * R;
        outer_tile(p.level, rows, block.data(), R, tile);
        for (int64_t i = 0; i < mr; ++i)
          for (int64_t j = 0; j < cc; ++j) write_out(p, (m0 + i) * cols + c0 + j, tile[i * kColPanel + j]);
      }
    }
  });
}

// Input gradient: out (M, K) = x (M, N) @ W; a panel is W[:, k0:k0 + 32], N runs of 32.
void input_grad(const Problem& p) {
  const int64_t N = p.N, K = p.K;
  outer_product(p, N, K, [&](int64_t k0, int64_t kc, float* block) {
    for (int64_t n = 0; n < N; ++n) {
      float* row = block + n * kColPanel;
      nf4_dequantize_range(*p.w, n * K + k0, kc, row);
      std::fill(row + kc, row + kColPanel, 0.0f);
    }
  });
}

// Forward for many rows of x: out (M, N) = x (M, K) @ W^T; a panel is W[n0:n0 + 32, :]^T as
// K runs of 32. Rows are dequantized 64 elements at a time into a small L1-resident tile and
// transposed from there, so the panel itself is written sequentially.
void forward_outer(const Problem& p) {
  const int64_t N = p.N, K = p.K;
  constexpr int64_t kChunk = 64;
  outer_product(p, K, N, [&](int64_t n0, int64_t nc, float* block) {
    float tile[kColPanel * kChunk] = {};
    for (int64_t k0 = 0; k0 < K; k0 += kChunk) {
      const int64_t kc = std::min(kChunk, K - k0);
      for (int64_t j = 0; j < nc; ++j) nf4_dequantize_range(*p.w, (n0 + j) * K + k0, kc, tile + j * kChunk);
      for (int64_t k = 0; k < kc; ++k) {
        float* dst = block + (k0 + k) * kColPanel;
        for (int64_t j = 0; j < kColPanel; ++j) dst[j] = tile[j * kChunk + k];
      }
    }
  });
}

}  // namespace

void nf4_matmul(int64_t M, int64_t N, int64_t K, const void* x, DType x_dtype, const Nf4Parts& w, void* out,
                DType out_dtype, float alpha, float beta, bool transpose_w) {
  if (M == 0 || N == 0 || K == 0) {
    // An empty reduction still scales out (alpha * 0 + beta * out).
    const int64_t cols = transpose_w ? N : K;
    for (int64_t i = 0; i < M * cols; ++i) {
      store_one(out, out_dtype, i, beta == 0 ? 0.0f : beta * load_one(out, out_dtype, i));
    }
    return;
  }
  const Problem p{M, N, K, x, x_dtype, &w, out, out_dtype, alpha, beta, simd_level()};
  if (!transpose_w) input_grad(p);
  else if (M >= kOuterMinRows) forward_outer(p);
  else forward(p);
}

}  // namespace optim
}  // namespace lmflow
