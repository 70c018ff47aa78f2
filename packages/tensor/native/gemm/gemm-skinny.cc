// Skinny GEMM: C has P <= kMaxSkinny rows (or columns) and Q long ones. The small operand is
// copied once into f32 rows X (P x K); the big one, Y, is read where it lies:
//   dot:  Y's Q lines run along k (a weight (N, K) in x @ W^T): C(p, q) = X_p . Y_q
//   axpy: Y's K lines run along q (row-major (K, N)):        C(p, :) = sum_k X(p, k) Y(k, :)
// With few columns instead of rows the same kernels run on C^T = op(B)^T op(A)^T, writing C
// through (row, column) strides. Threads take chunks of Q from a shared counter.
#include "gemm/gemm-skinny.h"

#include <algorithm>
#include <atomic>
#include <vector>

#include "common/cpu-features.h"
#include "common/thread-pool.h"
#include "gemm/gemm-kernels.h"

namespace lmflow {
namespace gemm_detail {
namespace {

// Up to this many rows (or columns) a product goes through the skinny kernels: their reads
// of the big operand cost less than packing it. Measured on Zen 5 (4096 x 4096 f32 weight,
// one thread): 1.3x (M = 16) to 3.7x (M = 1) OpenBLAS's sgemm; past ~24 rows the packed
// path is as fast.
constexpr int64_t kMaxSkinny = 16;

const SkinnyKernels& select_skinny() {
#if defined(__x86_64__)
  switch (simd_level()) {
    case SimdLevel::kAvx512: return avx512_skinny();
    case SimdLevel::kAvx2: return avx2_skinny();
    default: break;
  }
#endif
  return scalar_skinny();
}

struct Plan {
  int64_t P, Q, K;
  bool dot;
  const void* y;  // the big operand
  DType y_dtype;
  int64_t ldy;
  int64_t rs, cs;  // C(p, q) lives at c[p * rs + q * cs]
  std::vector<float> x;  // P x K, row-major
};

bool make_plan(int64_t M, int64_t N, int64_t K, const GemmOperand& a, const GemmOperand& b, int64_t ldc, Plan& plan) {
  if (std::min(M, N) > kMaxSkinny) return false;
  plan.K = K;
  plan.x.resize(static_cast<size_t>(std::min(M, N) * K));
  float* x = plan.x.data();
  if (M <= N) {
    // X = op(A) (M x K); Y = B: its rows are the columns of op(B) when transposed.
    plan.P = M, plan.Q = N, plan.rs = ldc, plan.cs = 1;
    plan.dot = b.trans;
    plan.y = b.data, plan.y_dtype = b.dtype, plan.ldy = b.ld;
    for (int64_t m = 0; m < M; ++m) {
      for (int64_t k = 0; k < K; ++k) x[m * K + k] = load_as_f32(a.data, a.dtype, a.trans ? k * a.ld + m : m * a.ld + k);
    }
  } else {
    // C^T = op(B)^T op(A)^T: X = op(B)^T (N x K); Y = A, whose rows run along k unless transposed.
    plan.P = N, plan.Q = M, plan.rs = 1, plan.cs = ldc;
    plan.dot = !a.trans;
    plan.y = a.data, plan.y_dtype = a.dtype, plan.ldy = a.ld;
    for (int64_t n = 0; n < N; ++n) {
      for (int64_t k = 0; k < K; ++k) x[n * K + k] = load_as_f32(b.data, b.dtype, b.trans ? n * b.ld + k : k * b.ld + n);
    }
  }
  return true;
}

int q_block(const Plan& plan, const SkinnyKernels& kernels) { return plan.dot ? kernels.dot_q : kernels.axpy_q; }

void store(const Plan& plan, int64_t p, int64_t q, float value, float alpha, float beta, void* c, DType c_dtype) {
  const int64_t at = p * plan.rs + q * plan.cs;
  const float v = alpha * value;
  store_from_f32(c, c_dtype, at, beta == 0.0f ? v : v + beta * load_as_f32(c, c_dtype, at));
}

// dot: C(p, q) over q in [q0, q1), whole K per block; each group of Y lines is read once from
// memory and reused from cache by every block of X rows.
void run_dot(const Plan& plan, const SkinnyKernels& kernels, int64_t q0, int64_t q1, float alpha, float beta, void* c,
             DType c_dtype) {
  if (plan.P == 1 && kernels.gemv) {
    // One row (decoding): straight into C when it is a plain f32 row, else through a buffer.
    if (c_dtype == DType::kF32 && plan.cs == 1 && alpha == 1.0f && beta == 0.0f) {
      kernels.gemv(q1 - q0, plan.K, plan.x.data(), offset_ptr(plan.y, plan.y_dtype, q0 * plan.ldy), plan.y_dtype, plan.ldy,
                   static_cast<float*>(c) + q0);
      return;
    }
    constexpr int64_t kBuffer = 256;
    float out[kBuffer];
    for (int64_t q = q0; q < q1; q += kBuffer) {
      const int64_t nq = std::min(kBuffer, q1 - q);
      kernels.gemv(nq, plan.K, plan.x.data(), offset_ptr(plan.y, plan.y_dtype, q * plan.ldy), plan.y_dtype, plan.ldy, out);
      if (c_dtype == DType::kBF16 && plan.cs == 1 && alpha == 1.0f && beta == 0.0f) {
        uint16_t* dst = static_cast<uint16_t*>(c) + q;  // a bf16 model's row: a loop the compiler vectorises
        for (int64_t j = 0; j < nq; ++j) dst[j] = f32_to_bf16(out[j]);
        continue;
      }
      for (int64_t j = 0; j < nq; ++j) store(plan, 0, q + j, out[j], alpha, beta, c, c_dtype);
    }
    return;
  }
  const int pb = kernels.dot_p, qb = kernels.dot_q;
  float out[64 * 8];  // pb x qb of every level fits
  for (int64_t q = q0; q < q1; q += qb) {
    const int nq = static_cast<int>(std::min<int64_t>(qb, q1 - q));
    const void* y = offset_ptr(plan.y, plan.y_dtype, q * plan.ldy);
    for (int64_t p = 0; p < plan.P; p += pb) {
      const int np = static_cast<int>(std::min<int64_t>(pb, plan.P - p));
      kernels.dot(np, nq, plan.K, plan.x.data() + p * plan.K, plan.K, y, plan.y_dtype, plan.ldy, out);
      for (int i = 0; i < np; ++i) {
        for (int j = 0; j < nq; ++j) store(plan, p + i, q + j, out[i * qb + j], alpha, beta, c, c_dtype);
      }
    }
  }
}

// axpy: Y's K lines are long and far apart (a row-major weight). Walking all of K for a few
// columns at a time would read each line in short pieces, a new page for every one; instead
// kSlice lines are read side by side across a group of kGroup columns (sequential streams),
// accumulating into an f32 buffer (P x kGroup, in L2).
void run_axpy(const Plan& plan, const SkinnyKernels& kernels, int64_t q0, int64_t q1, float alpha, float beta, void* c,
              DType c_dtype) {
  constexpr int64_t kGroup = 2048, kSlice = 16;
  const int pb = kernels.axpy_p, qb = kernels.axpy_q;
  thread_local std::vector<float> acc_buffer;
  acc_buffer.resize(static_cast<size_t>(plan.P * kGroup));
  float* acc = acc_buffer.data();
  for (int64_t g0 = q0; g0 < q1; g0 += kGroup) {
    const int64_t g1 = std::min(q1, g0 + kGroup);
    for (int64_t p = 0; p < plan.P; ++p) std::fill(acc + p * kGroup, acc + p * kGroup + (g1 - g0), 0.0f);
    for (int64_t k0 = 0; k0 < plan.K; k0 += kSlice) {
      const int64_t kb = std::min(kSlice, plan.K - k0);
      for (int64_t q = g0; q < g1; q += qb) {
        const int nq = static_cast<int>(std::min<int64_t>(qb, g1 - q));
        const void* y = offset_ptr(plan.y, plan.y_dtype, k0 * plan.ldy + q);
        for (int64_t p = 0; p < plan.P; p += pb) {
          const int np = static_cast<int>(std::min<int64_t>(pb, plan.P - p));
          kernels.axpy(np, nq, kb, plan.x.data() + p * plan.K + k0, plan.K, y, plan.y_dtype, plan.ldy,
                       acc + p * kGroup + (q - g0), kGroup);
        }
      }
    }
    for (int64_t p = 0; p < plan.P; ++p) {
      for (int64_t q = g0; q < g1; ++q) store(plan, p, q, acc[p * kGroup + (q - g0)], alpha, beta, c, c_dtype);
    }
  }
}

// C(p, q) for every p and q in [q0, q1).
void run_range(const Plan& plan, const SkinnyKernels& kernels, int64_t q0, int64_t q1, float alpha, float beta, void* c,
               DType c_dtype) {
  if (plan.dot) run_dot(plan, kernels, q0, q1, alpha, beta, c, c_dtype);
  else run_axpy(plan, kernels, q0, q1, alpha, beta, c, c_dtype);
}

// Blocks of Q per chunk of work. Work goes out in chunks from a shared counter
// (parallel_run_elastic): a thread that starts late, or shares its core with another process,
// takes fewer chunks instead of holding up the product. ~8 chunks per thread keeps each a long
// sequential read of the weight (at least 16 lines: tens of KiB) while leaving the others
// something to take over.
int64_t chunk_blocks(const Plan& plan, const SkinnyKernels& kernels, int64_t blocks) {
  const int64_t qb = q_block(plan, kernels);
  const int64_t per_chunk_goal = std::max<int64_t>(1, blocks / ((plan.P == 1 ? 3 : 8) * static_cast<int64_t>(num_threads())));
  // Whole 16-column groups per chunk, so no two threads write the same cache line of C when cs == 1.
  const int64_t align = std::max<int64_t>(1, 16 / qb);
  return std::max(align, (per_chunk_goal + align - 1) / align * align);
}

}  // namespace

bool skinny_gemm(int64_t M, int64_t N, int64_t K, float alpha, const GemmOperand& a, const GemmOperand& b, float beta,
                 void* c, DType c_dtype, int64_t ldc) {
  Plan plan;
  if (!make_plan(M, N, K, a, b, ldc, plan)) return false;
  run_range(plan, select_skinny(), 0, plan.Q, alpha, beta, c, c_dtype);
  return true;
}

bool skinny_gemm_parallel(int64_t M, int64_t N, int64_t K, float alpha, const GemmOperand& a, const GemmOperand& b,
                          float beta, void* c, DType c_dtype, int64_t ldc) {
  Plan plan;
  if (!make_plan(M, N, K, a, b, ldc, plan)) return false;
  const SkinnyKernels& kernels = select_skinny();
  const int64_t qb = q_block(plan, kernels);
  const int64_t chunk = chunk_blocks(plan, kernels, (plan.Q + qb - 1) / qb);
  const int64_t blocks = (plan.Q + qb - 1) / qb;
  std::atomic<int64_t> next{0};
  parallel_run_elastic([&](int, int) {
    for (;;) {
      const int64_t b0 = next.fetch_add(chunk, std::memory_order_relaxed);
      if (b0 >= blocks) return;
      const int64_t q0 = b0 * qb, q1 = std::min(plan.Q, (b0 + chunk) * qb);
      run_range(plan, kernels, q0, q1, alpha, beta, c, c_dtype);
    }
  });
  return true;
}


bool skinny_gemm_group_parallel(int64_t M, int64_t K, float alpha, const GemmOperand& a, const SkinnyGroupItem* items,
                                int count, float beta) {
  if (M > kMaxSkinny) return false;
  for (int i = 0; i < count; ++i) {
    if (items[i].N < M) return false;
  }
  const SkinnyKernels& kernels = select_skinny();
  const size_t n = static_cast<size_t>(count);
  std::vector<Plan> plans(n);
  // Item i owns the group's chunks [first[i], first[i + 1]), of `chunk[i]` blocks each.
  std::vector<int64_t> first(n + 1, 0), chunk(n);
  for (size_t i = 0; i < n; ++i) {
    make_plan(M, items[i].N, K, a, items[i].b, items[i].ldc, plans[i]);
    const int64_t qb = q_block(plans[i], kernels), blocks = (plans[i].Q + qb - 1) / qb;
    chunk[i] = chunk_blocks(plans[i], kernels, blocks);
    first[i + 1] = first[i] + (blocks + chunk[i] - 1) / chunk[i];
  }
  std::atomic<int64_t> next{0};
  auto work = [&](int, int) {
    size_t i = 0;  // chunks are taken in increasing order, so the item only moves forward
    for (int64_t j; (j = next.fetch_add(1, std::memory_order_relaxed)) < first[n];) {
      while (first[i + 1] <= j) ++i;
      const Plan& plan = plans[i];
      const int64_t qb = q_block(plan, kernels), b0 = (j - first[i]) * chunk[i];
      run_range(plan, kernels, b0 * qb, std::min(plan.Q, (b0 + chunk[i]) * qb), alpha, beta, items[i].c, items[i].c_dtype);
    }
  };
  if (num_threads() == 1) work(0, 1);
  else parallel_run_elastic(work);
  return true;
}

}  // namespace gemm_detail
}  // namespace lmflow
