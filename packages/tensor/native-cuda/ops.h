// Every kernel entry point the N-API binding (binding.cc) exposes. Each reads its operands
// from Args in the order the TypeScript backend (src/backends/cuda/*.ts) packs them.
#pragma once

#include "common.h"

namespace lmcuda {

// elementwise.cu
void k_fill(Args& args);
void k_copy(Args& args);
void k_random(Args& args);
void k_unary(Args& args);
void k_unary_grad(Args& args);
void k_binary(Args& args);
void k_compare(Args& args);
void k_scalar(Args& args);
void k_where(Args& args);
void k_reduce(Args& args);
void k_argmax(Args& args);
// index.cu
void k_index_select(Args& args);
void k_index_add(Args& args);
void k_gather(Args& args);
void k_scatter_add(Args& args);
// matmul.cu (cuBLAS through blas-loader.cc)
void k_matmul(Args& args);
// rows.cu
void k_softmax(Args& args);
void k_softmax_grad(Args& args);
void k_log_softmax(Args& args);
void k_log_softmax_grad(Args& args);
void k_rms_norm(Args& args);
void k_rms_norm_grad(Args& args);
void k_layer_norm(Args& args);
void k_layer_norm_grad(Args& args);
void k_rope(Args& args);
void k_cross_entropy(Args& args);
void k_cross_entropy_grad(Args& args);
// attention.cu (FlashAttention-style: tiled, online softmax, no (T, S) matrix)
void k_attention(Args& args);
void k_attention_grad(Args& args);
// optim.cu
void k_adamw(Args& args);
void k_nf4_dequantize(Args& args);
void k_nf4_matmul(Args& args);

}  // namespace lmcuda
