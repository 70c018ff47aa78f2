// Fused AdamW step (decoupled weight decay, bias-corrected moments), in place.
#pragma once

#include <cstdint>

#include "common/dtype.h"

namespace lmflow {
namespace optim {

struct AdamWHyper {
  double lr, beta1, beta2, eps, weight_decay;
  // 1-based step count after this update.
  double step;
};

// param (n elements of param_dtype) and grad (n of grad_dtype), m and v f32 moments, master an
// optional f32 copy of param (nullptr: update param directly). All contiguous.
// Computes in f32: param *= 1 - lr * wd; m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
// param -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps), as torch.optim.AdamW.
void adamw(void* param, DType param_dtype, const void* grad, DType grad_dtype, float* m, float* v,
           float* master, int64_t n, const AdamWHyper& hyper);

}  // namespace optim
}  // namespace lmflow
