// What the two attention implementations share: the problem's dimensions, row addressing of a
// (B, T, H, D) view, segment lookups, and the tensor-core entry points (attention_mma.cu) that
// attention.cu tries before its general CUDA-core kernels.
#pragma once

#include "common.h"

namespace lmcuda {

struct AttnDims {
  int64_t B, T, S, Hq, Hkv, D;
  float scale;
  int causal;
  int has_seg;
};

__device__ __forceinline__ int64_t row_offset(const View& v, int64_t b, int64_t t, int64_t h) {
  return v.offset + b * v.strides[0] + t * v.strides[1] + h * v.strides[2];
}
__device__ __forceinline__ int seg_at(const View& s, int64_t b, int64_t t) {
  return reinterpret_cast<const int32_t*>(s.ptr)[s.offset + b * s.strides[0] + t * s.strides[1]];
}

// Tensor-core attention (bf16/f16, head dims 64 and 128, rows 16-byte aligned). Each returns
// false, having done nothing, where the call is outside that (the caller then runs the
// general kernels), or where LMFLOW_CUDA_ATTENTION=simple asks for the general kernels.
bool attention_forward_mma(const View& q, const View& k, const View& v, const View& out, float* lse, const View& qseg,
                           const View& kseg, const AttnDims& d);
bool attention_backward_mma(const View& q, const View& k, const View& v, const View& out, const float* lse, const View& dout,
                            const View& dq, const View& dk, const View& dv, const View& qseg, const View& kseg, const AttnDims& d);
// The same on Hopper's warpgroup products (attention_wgmma.cu), tried first by the two above:
// false where the GPU is not compute capability 9.0, the library was built without sm_90a, or
// the case is left to mma.sync (the forward at head dim 64; LMFLOW_CUDA_ATTENTION=mma or =wgmma
// picks one set for everything).
bool attention_forward_wgmma(const View& q, const View& k, const View& v, const View& out, float* lse, const View& qseg,
                             const View& kseg, const AttnDims& d);
// The backward's dq, and dk, dv (or with grouped-query heads their f32 partial sums per query
// head (B, S, Hq, D) in partial, which the caller adds up), from delta = rowsum(dO * O).
bool attention_backward_wgmma(const View& q, const View& k, const View& v, const float* lse, const float* delta, const View& dout,
                              const View& dq, const View& dk, const View& dv, float* partial, const View& qseg, const View& kseg,
                              const AttnDims& d);

}  // namespace lmcuda
