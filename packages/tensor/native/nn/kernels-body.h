// The nn kernels, written once against the primitives of simd-*.h (vf, W, vload, vexp, ...)
// and included inside one namespace per instruction set by kernels-<isa>.cc. No #include
// here: the including file provides <cmath>, <cstring>, <algorithm>, <limits>, kernels.h.
//
// Every function works on dense f32 rows; the callers convert bf16/f16 rows around them.
// Loops take W floats at a time and finish with one partial (masked) vector, so the scalar
// build (W = 1) runs the same code.
#define NN_FN static NN_TARGET

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

#include "nn/body-common.h"
#include "nn/body-rows.h"
#include "nn/body-attention.h"

static const NnKernels kTable = {
    to_f32,
    from_f32,
    softmax_row,
    softmax_grad_row,
    log_softmax_row,
    log_softmax_grad_row,
    rms_norm_row,
    rms_norm_grad_row,
    layer_norm_row,
    layer_norm_grad_row,
    cross_entropy_row,
    cross_entropy_grad_row,
    rope_row,
    dot,
    exp_row,
    attention_forward_task,
    attention_row_task,
    attention_backward_task,
};

#undef NN_FN
#undef NN_INLINE
