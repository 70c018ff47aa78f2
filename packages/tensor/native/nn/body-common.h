// Conversions, row reductions and vector helpers shared by the nn kernels.
// Part of the nn kernel body (see kernels-body.h): included inside an instruction-set
// namespace, after the simd-*.h primitives; no #include here.

// ---- conversions -------------------------------------------------------------------------

NN_FN void to_f32(const void* src, DType dtype, float* dst, int64_t n) {
  if (dtype == DType::kF32) {
    if (src != dst) std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
    return;
  }
  const uint16_t* s = static_cast<const uint16_t*>(src);
  int64_t i = 0;
  if (dtype == DType::kBF16) {
    for (; i + W <= n; i += W) vstore(dst + i, vload_bf16(s + i));
    for (; i < n; ++i) dst[i] = bf16_to_f32(s[i]);
  } else {
    for (; i + W <= n; i += W) vstore(dst + i, vload_f16(s + i));
    for (; i < n; ++i) dst[i] = f16_to_f32(s[i]);
  }
}

NN_FN void from_f32(const float* src, void* dst, DType dtype, int64_t n) {
  if (dtype == DType::kF32) {
    if (src != dst) std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
    return;
  }
  uint16_t* d = static_cast<uint16_t*>(dst);
  int64_t i = 0;
  if (dtype == DType::kBF16) {
    for (; i + W <= n; i += W) vstore_bf16(d + i, vload(src + i));
    for (; i < n; ++i) d[i] = f32_to_bf16(src[i]);
  } else {
    for (; i + W <= n; i += W) vstore_f16(d + i, vload(src + i));
    for (; i < n; ++i) d[i] = f32_to_f16(src[i]);
  }
}

// x rounded to the precision of dtype (the "round to x's dtype" step of Llama's RMSNorm).
NN_INLINE vf vround_to(vf v, DType dtype) {
  if (dtype == DType::kBF16) return vround_bf16(v);
  if (dtype == DType::kF16) return vround_f16(v);
  return v;
}

// ---- row reductions (two accumulators hide the add latency) --------------------------------

// k (<= W) lanes from p, a full vector when k == W; padding lanes `fill`.
NN_INLINE vf vload_n(const float* p, int k, float fill) { return k == W ? vload(p) : vload_part(p, k, fill); }
NN_INLINE void vstore_n(float* p, vf v, int k) {
  if (k == W) vstore(p, v);
  else vstore_part(p, v, k);
}

NN_FN float row_max(const float* x, int64_t n) {
  vf m0 = vset1(kNegInf), m1 = m0;
  int64_t i = 0;
  for (; i + 2 * W <= n; i += 2 * W) {
    m0 = vmax(m0, vload(x + i));
    m1 = vmax(m1, vload(x + i + W));
  }
  for (; i + W <= n; i += W) m0 = vmax(m0, vload(x + i));
  if (i < n) m0 = vmax(m0, vload_part(x + i, static_cast<int>(n - i), kNegInf));
  return vhmax(vmax(m0, m1));
}

NN_FN float row_sum(const float* x, int64_t n) {
  vf s0 = vzero(), s1 = vzero();
  int64_t i = 0;
  for (; i + 2 * W <= n; i += 2 * W) {
    s0 = vadd(s0, vload(x + i));
    s1 = vadd(s1, vload(x + i + W));
  }
  for (; i + W <= n; i += W) s0 = vadd(s0, vload(x + i));
  if (i < n) s0 = vadd(s0, vload_part(x + i, static_cast<int>(n - i), 0.0f));
  return vhsum(vadd(s0, s1));
}

NN_FN float dot(const float* a, const float* b, int64_t n) {
  vf s0 = vzero(), s1 = vzero();
  int64_t i = 0;
  for (; i + 2 * W <= n; i += 2 * W) {
    s0 = vfma(vload(a + i), vload(b + i), s0);
    s1 = vfma(vload(a + i + W), vload(b + i + W), s1);
  }
  for (; i + W <= n; i += W) s0 = vfma(vload(a + i), vload(b + i), s0);
  if (i < n) {
    int r = static_cast<int>(n - i);
    s0 = vfma(vload_part(a + i, r, 0.0f), vload_part(b + i, r, 0.0f), s0);
  }
  return vhsum(vadd(s0, s1));
}

// y = exp(x - shift), returning the sum of y. y may be x; y null only sums.
NN_FN float exp_shift(const float* x, float* y, int64_t n, float shift) {
  const vf sh = vset1(shift);
  vf s0 = vzero(), s1 = vzero();
  int64_t i = 0;
  for (; i + 2 * W <= n; i += 2 * W) {
    vf e0 = vexp(vsub(vload(x + i), sh));
    vf e1 = vexp(vsub(vload(x + i + W), sh));
    if (y) {
      vstore(y + i, e0);
      vstore(y + i + W, e1);
    }
    s0 = vadd(s0, e0);
    s1 = vadd(s1, e1);
  }
  for (; i + W <= n; i += W) {
    vf e = vexp(vsub(vload(x + i), sh));
    if (y) vstore(y + i, e);
    s0 = vadd(s0, e);
  }
  if (i < n) {
    int r = static_cast<int>(n - i);
    vf e = vexp(vsub(vload_part(x + i, r, kNegInf), sh));  // padding lanes give exp(-inf) = 0
    if (y) vstore_part(y + i, e, r);
    s0 = vadd(s0, e);
  }
  return vhsum(vadd(s0, s1));
}

NN_FN void scale_row(float* x, int64_t n, float s) {
  const vf sv = vset1(s);
  int64_t i = 0;
  for (; i + W <= n; i += W) vstore(x + i, vmul(vload(x + i), sv));
  if (i < n) vstore_part(x + i, vmul(vload_part(x + i, static_cast<int>(n - i), 0.0f), sv), static_cast<int>(n - i));
}

NN_FN void scale_copy(const float* x, float* y, int64_t n, float s) {
  const vf sv = vset1(s);
  int64_t i = 0;
  for (; i + W <= n; i += W) vstore(y + i, vmul(vload(x + i), sv));
  if (i < n) vstore_part(y + i, vmul(vload_part(x + i, static_cast<int>(n - i), 0.0f), sv), static_cast<int>(n - i));
}

NN_FN void zero_row(float* x, int64_t n) {
  if (n > 0) std::memset(x, 0, static_cast<size_t>(n) * sizeof(float));
}

NN_FN void exp_row(const float* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + W <= n; i += W) vstore(y + i, vexp(vload(x + i)));
  if (i < n) {
    int r = static_cast<int>(n - i);
    vstore_part(y + i, vexp(vload_part(x + i, r, 0.0f)), r);
  }
}
