// Row kernels: softmax, log-softmax, RMSNorm, LayerNorm, cross-entropy, rotary embedding.
// Part of the nn kernel body (see kernels-body.h): included inside an instruction-set
// namespace, after the simd-*.h primitives; no #include here.

// ---- softmax family ------------------------------------------------------------------------

NN_FN void softmax_row(const float* x, float* y, int64_t n, int64_t valid, float scale) {
  valid = std::min(valid, n);
  if (valid <= 0) {
    zero_row(y, n);
    return;
  }
  scale_copy(x, y, valid, scale);
  float m = row_max(y, valid);
  float s = exp_shift(y, y, valid, m);
  scale_row(y, valid, 1.0f / s);
  zero_row(y + valid, n - valid);
}

NN_FN void softmax_grad_row(const float* y, const float* dy, float* dx, int64_t n, float scale) {
  const vf d = vset1(dot(dy, y, n));
  const vf sc = vset1(scale);
  int64_t i = 0;
  for (; i + W <= n; i += W) vstore(dx + i, vmul(vmul(vload(y + i), vsub(vload(dy + i), d)), sc));
  if (i < n) {
    int r = static_cast<int>(n - i);
    vstore_part(dx + i, vmul(vmul(vload_part(y + i, r, 0.0f), vsub(vload_part(dy + i, r, 0.0f), d)), sc), r);
  }
}

NN_FN void log_softmax_row(const float* x, float* y, int64_t n) {
  float m = row_max(x, n);
  float lse = m + std::log(exp_shift(x, nullptr, n, m));
  const vf l = vset1(lse);
  int64_t i = 0;
  for (; i + W <= n; i += W) vstore(y + i, vsub(vload(x + i), l));
  if (i < n) vstore_part(y + i, vsub(vload_part(x + i, static_cast<int>(n - i), 0.0f), l), static_cast<int>(n - i));
}

NN_FN void log_softmax_grad_row(const float* y, const float* dy, float* dx, int64_t n) {
  const vf s = vset1(row_sum(dy, n));
  int64_t i = 0;
  for (; i + W <= n; i += W) vstore(dx + i, vsub(vload(dy + i), vmul(vexp(vload(y + i)), s)));
  if (i < n) {
    int r = static_cast<int>(n - i);
    vstore_part(dx + i, vsub(vload_part(dy + i, r, 0.0f), vmul(vexp(vload_part(y + i, r, 0.0f)), s)), r);
  }
}

// ---- norms -----------------------------------------------------------------------------------

NN_FN float rms_norm_row(const float* x, const float* w, float* y, int64_t n, float eps, DType round_to) {
  float rstd = 1.0f / std::sqrt(dot(x, x, n) / static_cast<float>(n) + eps);
  const vf r = vset1(rstd);
  int64_t i = 0;
  for (; i + W <= n; i += W) {
    vf v = vround_to(vmul(vload(x + i), r), round_to);
    vstore(y + i, w ? vmul(v, vload(w + i)) : v);
  }
  if (i < n) {
    int k = static_cast<int>(n - i);
    vf v = vround_to(vmul(vload_part(x + i, k, 0.0f), r), round_to);
    vstore_part(y + i, w ? vmul(v, vload_part(w + i, k, 0.0f)) : v, k);
  }
  return rstd;
}

// With n = x * rstd and g = dy * w: dx = rstd * (g - n * mean(g * n)); dw += dy * round(n).
NN_FN void rms_norm_grad_row(const float* x, const float* w, float rstd, const float* dy, float* dx,
                             float* dw_acc, int64_t n, DType round_to) {
  const vf r = vset1(rstd);
  vf acc = vzero();
  int64_t i = 0;
  for (; i + W <= n; i += W) {
    vf g = w ? vmul(vload(dy + i), vload(w + i)) : vload(dy + i);
    acc = vfma(g, vmul(vload(x + i), r), acc);
  }
  if (i < n) {
    int k = static_cast<int>(n - i);
    vf g = vload_part(dy + i, k, 0.0f);
    if (w) g = vmul(g, vload_part(w + i, k, 0.0f));
    acc = vfma(g, vmul(vload_part(x + i, k, 0.0f), r), acc);
  }
  const vf c = vset1(vhsum(acc) / static_cast<float>(n));
  for (i = 0; i + W <= n; i += W) {
    vf d = vload(dy + i);
    vf g = w ? vmul(d, vload(w + i)) : d;
    vf nx = vmul(vload(x + i), r);
    vstore(dx + i, vmul(r, vsub(g, vmul(nx, c))));
    if (dw_acc) vstore(dw_acc + i, vfma(d, vround_to(nx, round_to), vload(dw_acc + i)));
  }
  if (i < n) {
    int k = static_cast<int>(n - i);
    vf d = vload_part(dy + i, k, 0.0f);
    vf g = w ? vmul(d, vload_part(w + i, k, 0.0f)) : d;
    vf nx = vmul(vload_part(x + i, k, 0.0f), r);
    vstore_part(dx + i, vmul(r, vsub(g, vmul(nx, c))), k);
    if (dw_acc) vstore_part(dw_acc + i, vfma(d, vround_to(nx, round_to), vload_part(dw_acc + i, k, 0.0f)), k);
  }
}

NN_FN void layer_norm_row(const float* x, const float* w, const float* b, float* y, int64_t n, float eps,
                          float* mean_out, float* rstd_out) {
  float mean = row_sum(x, n) / static_cast<float>(n);
  // Two passes: the variance of (x - mean) does not cancel catastrophically.
  const vf mv = vset1(mean);
  vf acc = vzero();
  int64_t i = 0;
  for (; i + W <= n; i += W) {
    vf d = vsub(vload(x + i), mv);
    acc = vfma(d, d, acc);
  }
  if (i < n) {
    // Padding lanes load `mean`, so they add 0.
    vf d = vsub(vload_part(x + i, static_cast<int>(n - i), mean), mv);
    acc = vfma(d, d, acc);
  }
  float rstd = 1.0f / std::sqrt(vhsum(acc) / static_cast<float>(n) + eps);
  const vf r = vset1(rstd);
  for (i = 0; i + W <= n; i += W) {
    vf v = vmul(vsub(vload(x + i), mv), r);
    if (w) v = vmul(v, vload(w + i));
    if (b) v = vadd(v, vload(b + i));
    vstore(y + i, v);
  }
  if (i < n) {
    int k = static_cast<int>(n - i);
    vf v = vmul(vsub(vload_part(x + i, k, 0.0f), mv), r);
    if (w) v = vmul(v, vload_part(w + i, k, 0.0f));
    if (b) v = vadd(v, vload_part(b + i, k, 0.0f));
    vstore_part(y + i, v, k);
  }
  *mean_out = mean;
  *rstd_out = rstd;
}

// With xh = (x - mean) * rstd and g = dy * w: dx = rstd * (g - mean(g) - xh * mean(g * xh)).
NN_FN void layer_norm_grad_row(const float* x, const float* w, float mean, float rstd, const float* dy,
                               float* dx, float* dw_acc, float* db_acc, int64_t n) {
  const vf mv = vset1(mean), r = vset1(rstd);
  vf sg = vzero(), sgx = vzero();
  int64_t i = 0;
  for (; i + W <= n; i += W) {
    vf g = w ? vmul(vload(dy + i), vload(w + i)) : vload(dy + i);
    vf xh = vmul(vsub(vload(x + i), mv), r);
    sg = vadd(sg, g);
    sgx = vfma(g, xh, sgx);
  }
  if (i < n) {
    int k = static_cast<int>(n - i);
    vf g = vload_part(dy + i, k, 0.0f);
    if (w) g = vmul(g, vload_part(w + i, k, 0.0f));
    vf xh = vmul(vsub(vload_part(x + i, k, mean), mv), r);
    sg = vadd(sg, g);
    sgx = vfma(g, xh, sgx);
  }
  const float inv_n = 1.0f / static_cast<float>(n);
  const vf c1 = vset1(vhsum(sg) * inv_n), c2 = vset1(vhsum(sgx) * inv_n);
  for (i = 0; i + W <= n; i += W) {
    vf d = vload(dy + i);
    vf g = w ? vmul(d, vload(w + i)) : d;
    vf xh = vmul(vsub(vload(x + i), mv), r);
    vstore(dx + i, vmul(r, vsub(vsub(g, c1), vmul(xh, c2))));
    if (dw_acc) vstore(dw_acc + i, vfma(d, xh, vload(dw_acc + i)));
    if (db_acc) vstore(db_acc + i, vadd(d, vload(db_acc + i)));
  }
  if (i < n) {
    int k = static_cast<int>(n - i);
    vf d = vload_part(dy + i, k, 0.0f);
    vf g = w ? vmul(d, vload_part(w + i, k, 0.0f)) : d;
    vf xh = vmul(vsub(vload_part(x + i, k, mean), mv), r);
    vstore_part(dx + i, vmul(r, vsub(vsub(g, c1), vmul(xh, c2))), k);
    if (dw_acc) vstore_part(dw_acc + i, vfma(d, xh, vload_part(dw_acc + i, k, 0.0f)), k);
    if (db_acc) vstore_part(db_acc + i, vadd(d, vload_part(db_acc + i, k, 0.0f)), k);
  }
}

// ---- cross-entropy ---------------------------------------------------------------------------

// loss = (1 - e) * (lse - x[t]) + e * (lse - mean(x)): PyTorch's label smoothing, where the
// smoothed target puts e / V on every class.
NN_FN float cross_entropy_row(const float* x, int64_t n, int64_t target, bool ignored, float smoothing,
                              float* loss) {
  float m = row_max(x, n);
  float lse = m + std::log(exp_shift(x, nullptr, n, m));
  if (ignored) {
    *loss = 0.0f;
  } else {
    float nll = lse - x[target];
    *loss = smoothing > 0.0f ? (1.0f - smoothing) * nll + smoothing * (lse - row_sum(x, n) / static_cast<float>(n)) : nll;
  }
  return lse;
}

NN_FN void cross_entropy_grad_row(const float* x, int64_t n, int64_t target, bool ignored, float smoothing,
                                  float lse, float dloss, float* dx) {
  if (ignored) {
    zero_row(dx, n);
    return;
  }
  const vf l = vset1(lse), e = vset1(smoothing / static_cast<float>(n)), dl = vset1(dloss);
  int64_t i = 0;
  for (; i + W <= n; i += W) vstore(dx + i, vmul(vsub(vexp(vsub(vload(x + i), l)), e), dl));
  if (i < n) {
    int k = static_cast<int>(n - i);
    vstore_part(dx + i, vmul(vsub(vexp(vsub(vload_part(x + i, k, 0.0f), l)), e), dl), k);
  }
  dx[target] -= (1.0f - smoothing) * dloss;
}

// ---- rotary embedding ------------------------------------------------------------------------

// y = x * cos + rotate(x) * sin, where cos and sin hold D entries laid out for the pairing
// (see rope.cc), so both layouts are one multiply-add per element.
NN_FN void rope_row(const float* x, float* y, const float* cos, const float* sin, int64_t D, bool interleaved) {
  if (!interleaved) {
    const int64_t h = D / 2;
    int64_t i = 0;
    for (; i + W <= h; i += W) {
      vf a = vload(x + i), b = vload(x + h + i);
      vstore(y + i, vfma(b, vload(sin + i), vmul(a, vload(cos + i))));
      vstore(y + h + i, vfma(a, vload(sin + h + i), vmul(b, vload(cos + h + i))));
    }
    for (; i < h; ++i) {
      float a = x[i], b = x[h + i];
      y[i] = a * cos[i] + b * sin[i];
      y[h + i] = b * cos[h + i] + a * sin[h + i];
    }
    return;
  }
  int64_t i = 0;
  if (W >= 2) {
    for (; i + W <= D; i += W) {
      vf a = vload(x + i);
      vstore(y + i, vfma(vswap_pairs(a), vload(sin + i), vmul(a, vload(cos + i))));
    }
  }
  for (; i < D; ++i) y[i] = x[i] * cos[i] + x[i ^ 1] * sin[i];
}
