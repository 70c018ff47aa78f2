// Optimizer and quantization kernels: fused AdamW (one pass over param, grad, both moments and
// the optional f32 master copy), NF4 dequantization, and the NF4 matrix product, which
// dequantizes 16x16 tiles of W into shared memory and never holds W in full.
#include "device.cuh"
#include "ops.h"

namespace lmcuda {
namespace {

constexpr int kThreads = 256;

__global__ void adamw_kernel(View param, View grad, float* m, float* v, float* master, float lr, float beta1, float beta2, float eps,
                             float wd, float bc1, float bc2, int64_t n) {
  LMCUDA_FOR(i, n) {
    const float g = load_as<float>(grad.data(), grad.dtype, i);
    float p = master ? master[i] : load_as<float>(param.data(), param.dtype, i);
    // Decoupled weight decay, before the Adam step (torch.optim.AdamW).
    p -= lr * wd * p;
    const float mi = beta1 * m[i] + (1.f - beta1) * g;
    const float vi = beta2 * v[i] + (1.f - beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    p -= lr * (mi / bc1) / (sqrtf(vi / bc2) + eps);
    if (master) master[i] = p;
    store_as<float>(param.data(), param.dtype, i, p);
  }
}

struct Nf4 {
  const uint8_t* codes;
  const uint8_t* absmax_codes;
  const float* scales;
  double offset;
};

__constant__ float kNf4[16] = {
    -1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f, -0.28444138169288635f,
    -0.18477343022823334f, -0.09105003625154495f, 0.0f, 0.07958029955625534f, 0.16093020141124725f,
    0.24611230194568634f, 0.33791524171829224f, 0.44070982933044434f, 0.5626170039176941f,
    0.7229568362236023f, 1.0f};

// The absmax of block b in float64, rounded once (offset and the scaled code may nearly cancel).
__device__ __forceinline__ float nf4_absmax(const Nf4& w, int64_t b) {
  const double code = static_cast<double>(static_cast<int>(w.absmax_codes[b]) - 127);
  return static_cast<float>(w.offset + (static_cast<double>(w.scales[b / 256]) * code) / 127);
}
__device__ __forceinline__ float nf4_at(const Nf4& w, int64_t e) {
  const uint8_t byte = w.codes[e >> 1];
  const int code = (e & 1) ? (byte & 15) : (byte >> 4);
  return kNf4[code] * nf4_absmax(w, e / 64);
}

__global__ void nf4_dequantize_kernel(Nf4 w, View out, int64_t n) {
  LMCUDA_FOR(e, n) store_as<float>(out.data(), out.dtype, e, nf4_at(w, e));
}

// out (M, C) = alpha * x (M, I) @ op(W) + beta * out, W (N, K): op(W) = W^T (I = K, C = N) when
// transpose_w, else W (I = N, C = K). Block: 16 x 16 threads, one output each.
__global__ void nf4_matmul_kernel(View x, Nf4 w, View out, int64_t M, int64_t I, int64_t C, int64_t K, int transpose_w, float alpha,
                                  float beta) {
  __shared__ float xs[16][17];
  __shared__ float ws[16][17];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int64_t row = blockIdx.y * 16LL + ty, col = blockIdx.x * 16LL + tx;
  float acc = 0.f;
  for (int64_t i0 = 0; i0 < I; i0 += 16) {
    const int64_t xi = i0 + tx;
    xs[ty][tx] = row < M && xi < I ? load_as<float>(x.data(), x.dtype, row * I + xi) : 0.f;
    // ws[r][c] = op(W)[i0 + r][col block + c]
    const int64_t wi = i0 + ty, wc = blockIdx.x * 16LL + tx;
    float wv = 0.f;
    if (wi < I && wc < C) wv = nf4_at(w, transpose_w ? wc * K + wi : wi * K + wc);
    ws[ty][tx] = wv;
    __syncthreads();
    for (int r = 0; r < 16; r++) acc += xs[ty][r] * ws[r][tx];
    __syncthreads();
  }
  if (row < M && col < C) {
    float r = alpha * acc;
    if (beta != 0.f) r += beta * load_as<float>(out.data(), out.dtype, row * C + col);
    store_as<float>(out.data(), out.dtype, row * C + col, r);
  }
}

Nf4 nf4_of(Args& args) {
  View codes = args.view(), absmax_codes = args.view(), scales = args.view();
  const double offset = args.num();
  if (codes.dtype != U8 || absmax_codes.dtype != U8 || scales.dtype != F32) {
    fail(std::string(args.op()) + ": NF4 parts must be codes u8, absmaxCodes u8 and absmaxScales f32, got " + codes.describe() + ", " +
         absmax_codes.describe() + ", " + scales.describe());
  }
  return Nf4{reinterpret_cast<const uint8_t*>(codes.data()), reinterpret_cast<const uint8_t*>(absmax_codes.data()),
             reinterpret_cast<const float*>(scales.data()), offset};
}

}  // namespace

// Arguments: param, grad, m, v, master|null, lr, beta1, beta2, eps, weightDecay, step.
void k_adamw(Args& args) {
  View param = args.view(), grad = args.view(), m = args.view(), v = args.view();
  View master{};
  const bool has_master = args.view_or_null(&master);
  const double lr = args.num(), beta1 = args.num(), beta2 = args.num(), eps = args.num(), wd = args.num(), step = args.num();
  if (m.dtype != F32 || v.dtype != F32 || (has_master && master.dtype != F32)) fail("adamw: m, v and master must be f32 on the cuda backend");
  const int64_t n = param.numel();
  if (grad.numel() != n || m.numel() != n || v.numel() != n || (has_master && master.numel() != n)) {
    fail("adamw: param " + param.describe() + ", grad " + grad.describe() + ", m and v must have the same number of elements");
  }
  if (n == 0) return;
  const float bc1 = static_cast<float>(1 - std::pow(beta1, step)), bc2 = static_cast<float>(1 - std::pow(beta2, step));
  adamw_kernel<<<blocks_for(n, kThreads), kThreads, 0, stream()>>>(
      param, grad, reinterpret_cast<float*>(m.data()), reinterpret_cast<float*>(v.data()),
      has_master ? reinterpret_cast<float*>(master.data()) : nullptr, static_cast<float>(lr), static_cast<float>(beta1),
      static_cast<float>(beta2), static_cast<float>(eps), static_cast<float>(wd), bc1, bc2, n);
  check_launch("adamw");
}

// Arguments: codes, absmaxCodes, absmaxScales, absmaxOffset, out.
void k_nf4_dequantize(Args& args) {
  const Nf4 w = nf4_of(args);
  View out = args.view();
  const int64_t n = out.numel();
  if (n == 0) return;
  nf4_dequantize_kernel<<<blocks_for(n, kThreads), kThreads, 0, stream()>>>(w, out, n);
  check_launch("nf4Dequantize");
}

// Arguments: x, codes, absmaxCodes, absmaxScales, absmaxOffset, out, N, K, alpha, beta, transposeW.
void k_nf4_matmul(Args& args) {
  View x = args.view();
  const Nf4 w = nf4_of(args);
  View out = args.view();
  const int64_t N = args.i64(), K = args.i64();
  const float alpha = static_cast<float>(args.num()), beta = static_cast<float>(args.num());
  const bool transpose_w = args.flag();
  const int64_t I = transpose_w ? K : N, C = transpose_w ? N : K;
  const int64_t M = I == 0 ? 0 : x.numel() / I;
  if (M == 0 || C == 0) return;
  const dim3 block(16, 16), grid(static_cast<unsigned>((C + 15) / 16), static_cast<unsigned>((M + 15) / 16));
  nf4_matmul_kernel<<<grid, block, 0, stream()>>>(x, w, out, M, I, C, K, transpose_w, alpha, beta);
  check_launch("nf4Matmul");
}

}  // namespace lmcuda
