// The nn kernels for one instruction set, as a table of functions on f32 rows.
//
// kernels-body.h holds one implementation, compiled three times (kernels-avx512.cc,
// kernels-avx2.cc, kernels-scalar.cc) against the primitives of simd-*.h. The N-API side
// (softmax.cc, norm.cc, ...) converts rows of bf16/f16 to f32 around these calls, splits
// the work over the thread pool, and picks the table with nn_kernels() on each call, so
// setCpuSimdLevel() takes effect immediately.
#pragma once

#include <cstdint>

#include "common/dtype.h"

namespace lmflow {
namespace nn {

// Query rows and key rows per attention tile. The scores of one tile (kBlockQ x kBlockK
// floats) are the only score memory a task holds.
constexpr int64_t kBlockQ = 64;
constexpr int64_t kBlockK = 128;

// One (B, T, H, D) operand of attention: data points at element [0, 0, 0, 0]; the last
// dimension is contiguous.
struct AttnOperand {
  const void* data = nullptr;
  DType dtype = DType::kF32;
  int64_t stride_b = 0, stride_t = 0, stride_h = 0;
};

struct AttnArgs {
  int64_t B = 0, T = 0, S = 0, Hq = 0, Hkv = 0, D = 0;
  float scale = 1.0f;
  bool causal = false;
  AttnOperand q, k, v;
  // Segment ids (i32) at [b, t] = qseg[b * qseg_sb + t * qseg_st], or null for none.
  const int32_t* qseg = nullptr;
  int64_t qseg_sb = 0, qseg_st = 0;
  const int32_t* kseg = nullptr;
  int64_t kseg_sb = 0, kseg_st = 0;
  // Forward: out (B, T, Hq, D) contiguous in out_dtype, lse (B, Hq, T) f32.
  void* out = nullptr;
  DType out_dtype = DType::kF32;
  float* lse = nullptr;
  // Backward: o and dout as operands (B, T, Hq, D); drow (B, Hq, T) = sum(dout * o) per row.
  AttnOperand o, dout;
  const float* drow = nullptr;
  // dk, dv (B, S, Hkv, D) contiguous in grad_dtype.
  void* dk = nullptr;
  void* dv = nullptr;
  DType grad_dtype = DType::kF32;
};

// Floats of scratch one attention task needs for head size D: the backward's six key-tile
// buffers, two query-tile buffers and two score tiles (the forward needs less).
inline int64_t attention_row_scratch_floats(int64_t D, int64_t S) { return 3 * D + S + 16; }
inline int64_t attention_scratch_floats(int64_t D) {
  return 6 * kBlockK * D + 2 * kBlockQ * D + 2 * kBlockQ * kBlockK + 3 * kBlockQ + D;
}

struct NnKernels {
  // Dense conversions of n elements between a float dtype and f32.
  void (*to_f32)(const void* src, DType dtype, float* dst, int64_t n);
  void (*from_f32)(const float* src, void* dst, DType dtype, int64_t n);

  // y[0, valid) = softmax(scale * x[0, valid)); y[valid, n) = 0 (masked). y may be x.
  void (*softmax_row)(const float* x, float* y, int64_t n, int64_t valid, float scale);
  // dx = scale * y * (dy - sum(dy * y)).
  void (*softmax_grad_row)(const float* y, const float* dy, float* dx, int64_t n, float scale);
  void (*log_softmax_row)(const float* x, float* y, int64_t n);
  // dx = dy - exp(y) * sum(dy).
  void (*log_softmax_grad_row)(const float* y, const float* dy, float* dx, int64_t n);

  // Returns rstd; y = round_to(x * rstd) * w (w null: no scale). round_to is x's dtype.
  float (*rms_norm_row)(const float* x, const float* w, float* y, int64_t n, float eps, DType round_to);
  // dx written; dw_acc (if not null) += dy * round_to(x * rstd).
  void (*rms_norm_grad_row)(const float* x, const float* w, float rstd, const float* dy, float* dx,
                            float* dw_acc, int64_t n, DType round_to);
  void (*layer_norm_row)(const float* x, const float* w, const float* b, float* y, int64_t n, float eps,
                         float* mean, float* rstd);
  void (*layer_norm_grad_row)(const float* x, const float* w, float mean, float rstd, const float* dy,
                              float* dx, float* dw_acc, float* db_acc, int64_t n);

  // Cross-entropy of one row of logits: returns lse; *loss for target (ignored: 0).
  float (*cross_entropy_row)(const float* x, int64_t n, int64_t target, bool ignored, float smoothing,
                             float* loss);
  // dx = (softmax(x) - smoothed one-hot) * dloss (ignored rows: 0).
  void (*cross_entropy_grad_row)(const float* x, int64_t n, int64_t target, bool ignored, float smoothing,
                                 float lse, float dloss, float* dx);

  // Rotates one head row of D values: cos/sin hold D/2 entries (already scaled, sin negated
  // for the inverse). interleaved: pairs (2i, 2i+1); else Hugging Face's (i, i + D/2).
  void (*rope_row)(const float* x, float* y, const float* cos, const float* sin, int64_t D, bool interleaved);

  float (*dot)(const float* a, const float* b, int64_t n);
  // y = exp(x) elementwise (the vectorized exp, exposed for its accuracy test).
  void (*exp_row)(const float* x, float* y, int64_t n);

  // Attention tasks (see attention.cc): the forward of kBlockQ query rows t0.. of head h of
  // batch b; the backward of keys [s_begin, s_end) of kv head hk of batch b, adding the
  // query gradient into dq_acc (B, T, Hq, D) f32.
  void (*attention_forward_task)(const AttnArgs& a, int64_t b, int64_t h, int64_t t0, float* scratch);
  // The forward of query row t alone (decoding), scratch attention_row_scratch_floats(D, S).
  void (*attention_row_task)(const AttnArgs& a, int64_t b, int64_t h, int64_t t, float* scratch);
  void (*attention_backward_task)(const AttnArgs& a, int64_t b, int64_t hk, int64_t s_begin, int64_t s_end,
                                  float* dq_acc, float* scratch);
};

const NnKernels& kernels_scalar();
const NnKernels& kernels_avx2();
const NnKernels& kernels_avx512();
// The table for the SIMD level in force (simd_level()).
const NnKernels& nn_kernels();

}  // namespace nn
}  // namespace lmflow
