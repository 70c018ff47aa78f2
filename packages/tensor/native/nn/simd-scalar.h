// Scalar primitives for the nn kernels: one float per "vector", for CPUs without AVX2 and
// for non-x86 builds. Same names as simd-avx512.h; exp is the C library's.
#define NN_INLINE static inline __attribute__((always_inline))

using vf = float;
constexpr int W = 1;

NN_INLINE vf vzero() { return 0.0f; }
NN_INLINE vf vset1(float a) { return a; }
NN_INLINE vf vload(const float* p) { return *p; }
NN_INLINE void vstore(float* p, vf v) { *p = v; }
// Never called with W = 1 (a partial vector would be empty); kept for the shared code.
NN_INLINE vf vload_part(const float*, int, float fill) { return fill; }
NN_INLINE void vstore_part(float*, vf, int) {}

NN_INLINE vf vadd(vf a, vf b) { return a + b; }
NN_INLINE vf vsub(vf a, vf b) { return a - b; }
NN_INLINE vf vmul(vf a, vf b) { return a * b; }
// Plain multiply-add: std::fma is a slow library call where the CPU has no FMA.
NN_INLINE vf vfma(vf a, vf b, vf c) { return a * b + c; }
NN_INLINE vf vmax(vf a, vf b) { return a > b ? a : b; }
NN_INLINE float vhsum(vf v) { return v; }
NN_INLINE float vhmax(vf v) { return v; }
NN_INLINE vf vexp(vf x) { return std::exp(x); }
NN_INLINE vf vswap_pairs(vf v) { return v; }

NN_INLINE vf vload_bf16(const uint16_t* p) { return bf16_to_f32(*p); }
NN_INLINE void vstore_bf16(uint16_t* p, vf v) { *p = f32_to_bf16(v); }
NN_INLINE vf vround_bf16(vf v) { return bf16_to_f32(f32_to_bf16(v)); }
NN_INLINE vf vload_f16(const uint16_t* p) { return f16_to_f32(*p); }
NN_INLINE void vstore_f16(uint16_t* p, vf v) { *p = f32_to_f16(v); }
NN_INLINE vf vround_f16(vf v) { return f16_to_f32(f32_to_f16(v)); }
