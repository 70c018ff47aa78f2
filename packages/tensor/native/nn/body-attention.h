// Attention: the small GEMM for score tiles and the forward and backward tasks.
// Part of the nn kernel body (see kernels-body.h): included inside an instruction-set
// namespace, after the simd-*.h primitives; no #include here.

// ---- small GEMM for attention tiles ----------------------------------------------------------

// C[R x nc] (+)= alpha * op(A)[R x k] * B[k x nc] with nc <= 2W columns: R rows of two
// vectors of accumulators, B's row loaded once per k step and A's element broadcast.
// op(A) is A (element (r, p) at A[r * lda + p]) or, with AT, A^T (at A[p * lda + r]), so
// products with a transposed tile need no transposed copy.
template <int R, bool AT>
NN_FN void gemm_tile(int64_t k, float alpha, const float* A, int64_t lda, const float* B, int64_t ldb, float* C,
                     int64_t ldc, int nc, bool accumulate) {
  vf c0[R], c1[R];
  for (int r = 0; r < R; ++r) c0[r] = c1[r] = vzero();
  const int n0 = nc < W ? nc : W;
  const int n1 = nc - n0;
  if (nc == 2 * W) {
    for (int64_t p = 0; p < k; ++p) {
      const float* b = B + p * ldb;
      vf b0 = vload(b), b1 = vload(b + W);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        vf a = vset1(AT ? A[p * lda + r] : A[r * lda + p]);
        c0[r] = vfma(a, b0, c0[r]);
        c1[r] = vfma(a, b1, c1[r]);
      }
    }
  } else {
    for (int64_t p = 0; p < k; ++p) {
      const float* b = B + p * ldb;
      vf b0 = n0 == W ? vload(b) : vload_part(b, n0, 0.0f);
      vf b1 = n1 == W ? vload(b + W) : n1 > 0 ? vload_part(b + W, n1, 0.0f) : vzero();
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        vf a = vset1(AT ? A[p * lda + r] : A[r * lda + p]);
        c0[r] = vfma(a, b0, c0[r]);
        c1[r] = vfma(a, b1, c1[r]);
      }
    }
  }
  const vf al = vset1(alpha);
  for (int r = 0; r < R; ++r) {
    float* c = C + r * ldc;
    if (n0 == W) {
      vstore(c, accumulate ? vfma(al, c0[r], vload(c)) : vmul(al, c0[r]));
    } else {
      vstore_part(c, accumulate ? vfma(al, c0[r], vload_part(c, n0, 0.0f)) : vmul(al, c0[r]), n0);
    }
    if (n1 == W) {
      vstore(c + W, accumulate ? vfma(al, c1[r], vload(c + W)) : vmul(al, c1[r]));
    } else if (n1 > 0) {
      vstore_part(c + W, accumulate ? vfma(al, c1[r], vload_part(c + W, n1, 0.0f)) : vmul(al, c1[r]), n1);
    }
  }
}

// C (m x n) = alpha * op(A) (m x k) * B (k x n) (+ C when accumulate); row-major f32, op(A)
// = A, or A^T with AT (A stored k x m).
template <bool AT>
NN_FN void gemm(int64_t m, int64_t n, int64_t k, float alpha, const float* A, int64_t lda, const float* B,
                int64_t ldb, float* C, int64_t ldc, bool accumulate) {
  constexpr int64_t NR = 2 * W;
  // Row r of op(A) starts at A + r * step.
  const int64_t step = AT ? 1 : lda;
  for (int64_t j = 0; j < n; j += NR) {
    const int nc = static_cast<int>(std::min(NR, n - j));
    int64_t i = 0;
    for (; i + 6 <= m; i += 6) gemm_tile<6, AT>(k, alpha, A + i * step, lda, B + j, ldb, C + i * ldc + j, ldc, nc, accumulate);
    const float* a = A + i * step;
    float* c = C + i * ldc + j;
    switch (m - i) {
      case 5: gemm_tile<5, AT>(k, alpha, a, lda, B + j, ldb, c, ldc, nc, accumulate); break;
      case 4: gemm_tile<4, AT>(k, alpha, a, lda, B + j, ldb, c, ldc, nc, accumulate); break;
      case 3: gemm_tile<3, AT>(k, alpha, a, lda, B + j, ldb, c, ldc, nc, accumulate); break;
      case 2: gemm_tile<2, AT>(k, alpha, a, lda, B + j, ldb, c, ldc, nc, accumulate); break;
      case 1: gemm_tile<1, AT>(k, alpha, a, lda, B + j, ldb, c, ldc, nc, accumulate); break;
      default: break;
    }
  }
}

// dst (cols x rows, ldd) = src (rows x cols, lds)^T, in 8 x 8 blocks for locality.
NN_FN void transpose(const float* src, int64_t rows, int64_t cols, int64_t lds, float* dst, int64_t ldd) {
  for (int64_t i0 = 0; i0 < rows; i0 += 8) {
    const int64_t i1 = std::min(rows, i0 + 8);
    for (int64_t j0 = 0; j0 < cols; j0 += 8) {
      const int64_t j1 = std::min(cols, j0 + 8);
      for (int64_t i = i0; i < i1; ++i)
        for (int64_t j = j0; j < j1; ++j) dst[j * ldd + i] = src[i * lds + j];
    }
  }
}

// ---- attention -------------------------------------------------------------------------------

NN_INLINE const void* attn_row(const AttnOperand& x, int64_t b, int64_t t, int64_t h) {
  return static_cast<const char*>(x.data) + (b * x.stride_b + t * x.stride_t + h * x.stride_h) * dtype_size(x.dtype);
}

// Rows [s0, s0 + n) of head h of a (B, S, H, D) operand as f32 rows: the operand's own memory
// when it is f32 (leading dimension stride_t), else converted into buf (leading dimension D).
NN_FN const float* attn_rows_f32(const AttnOperand& x, int64_t b, int64_t s0, int64_t n, int64_t h, int64_t D,
                                 float* buf, int64_t* ld) {
  if (x.dtype == DType::kF32) {
    *ld = x.stride_t;
    return static_cast<const float*>(attn_row(x, b, s0, h));
  }
  for (int64_t c = 0; c < n; ++c) to_f32(attn_row(x, b, s0 + c, h), x.dtype, buf + c * D, D);
  *ld = D;
  return buf;
}

// Whether query t of batch b sees key s.
NN_INLINE bool attn_visible(const AttnArgs& a, int64_t b, int64_t t, int64_t s) {
  if (a.causal && s > t + a.S - a.T) return false;
  return !a.qseg || a.qseg[b * a.qseg_sb + t * a.qseg_st] == a.kseg[b * a.kseg_sb + s * a.kseg_st];
}

// Whether a (queries [t0, t0 + nq)) x (keys [s0, s0 + nk)) tile has masked entries to visit.
NN_INLINE bool attn_tile_masked(const AttnArgs& a, int64_t t0, int64_t s0, int64_t nk) {
  return a.qseg || (a.causal && s0 + nk - 1 > t0 + a.S - a.T);
}

// Forward of query rows [t0, t0 + kBlockQ) of head h. Scores are computed transposed,
// St = K Q^T (keys x queries), so K rows are read where they lie and only the query tile is
// transposed, once; the online softmax then runs down the key axis with the queries in the
// vector lanes (running max and sum per query; the partial output rescaled when the max
// grows). One (kBlockK x kBlockQ) score tile exists at a time.
NN_FN void attention_forward_task(const AttnArgs& a, int64_t b, int64_t h, int64_t t0, float* scratch) {
  const int64_t D = a.D, T = a.T, S = a.S;
  const int64_t hk = h / (a.Hq / a.Hkv);
  const int64_t nq = std::min(kBlockQ, T - t0);
  float* Qt = scratch;                 // (D, BQ) queries times scale, transposed
  float* O = Qt + D * kBlockQ;         // (BQ, D) unnormalised output
  float* St = O + kBlockQ * D;         // (BK, BQ) scores, then probabilities, transposed
  float* Kf = St + kBlockK * kBlockQ;  // (BK, D) key tile as f32 (when not f32 already)
  float* Vf = Kf + kBlockK * D;        // (BK, D) value tile as f32 (when not f32 already)
  float* qrow = Vf + kBlockK * D;      // (D) one query row
  float* mx = qrow + D;                // (BQ) running max per query
  float* sum = mx + kBlockQ;           // (BQ) running sum of exp(score - max)
  float* corr = sum + kBlockQ;         // (BQ) rescaling of the output for this key tile

  for (int64_t r = 0; r < nq; ++r) {
    to_f32(attn_row(a.q, b, t0 + r, h), a.q.dtype, qrow, D);
    for (int64_t d = 0; d < D; ++d) Qt[d * kBlockQ + r] = qrow[d] * a.scale;
    mx[r] = kNegInf;
    sum[r] = 0.0f;
  }
  zero_row(O, nq * D);
  // Clamping the max to -FLT_MAX keeps rows that see nothing yet free of inf - inf.
  const vf lowest = vset1(-std::numeric_limits<float>::max());
  const int64_t s_end = a.causal ? std::min(S, t0 + nq + S - T) : S;
  for (int64_t s0 = 0; s0 < s_end; s0 += kBlockK) {
    const int64_t nk = std::min(kBlockK, s_end - s0);
    int64_t ldk, ldv;
    const float* K = attn_rows_f32(a.k, b, s0, nk, hk, D, Kf, &ldk);
    gemm<false>(nk, nq, D, 1.0f, K, ldk, Qt, kBlockQ, St, kBlockQ, false);
    if (attn_tile_masked(a, t0, s0, nk)) {
      for (int64_t c = 0; c < nk; ++c)
        for (int64_t r = 0; r < nq; ++r)
          if (!attn_visible(a, b, t0 + r, s0 + c)) St[c * kBlockQ + r] = kNegInf;
    }
    for (int64_t r0 = 0; r0 < nq; r0 += W) {
      const int k = static_cast<int>(std::min<int64_t>(W, nq - r0));
      vf m_blk = vset1(kNegInf);
      for (int64_t c = 0; c < nk; ++c) m_blk = vmax(m_blk, vload_n(St + c * kBlockQ + r0, k, kNegInf));
      const vf m_old = vload_n(mx + r0, k, kNegInf);
      const vf m_new = vmax(m_old, m_blk);
      const vf m_safe = vmax(m_new, lowest);
      vf s = vzero();
      for (int64_t c = 0; c < nk; ++c) {
        float* p = St + c * kBlockQ + r0;
        const vf e = vexp(vsub(vload_n(p, k, kNegInf), m_safe));
        vstore_n(p, e, k);
        s = vadd(s, e);
      }
      const vf cr = vexp(vsub(m_old, m_safe));
      vstore_n(sum + r0, vfma(vload_n(sum + r0, k, 0.0f), cr, s), k);
      vstore_n(mx + r0, m_new, k);
      vstore_n(corr + r0, cr, k);
    }
    for (int64_t r = 0; r < nq; ++r) {
      if (corr[r] != 1.0f) scale_row(O + r * D, D, corr[r]);
    }
    const float* V = attn_rows_f32(a.v, b, s0, nk, hk, D, Vf, &ldv);
    // O += P V with P = St^T
    gemm<true>(nq, D, nk, 1.0f, St, kBlockQ, V, ldv, O, D, true);
  }
  for (int64_t r = 0; r < nq; ++r) {
    const int64_t t = t0 + r;
    float* orow = O + r * D;
    float& lse = a.lse[(b * a.Hq + h) * T + t];
    if (sum[r] > 0.0f) {
      scale_row(orow, D, 1.0f / sum[r]);
      lse = mx[r] + std::log(sum[r]);
    } else {  // a query that sees no key: output 0
      zero_row(orow, D);
      lse = kNegInf;
    }
    char* dst = static_cast<char*>(a.out) + ((b * T + t) * a.Hq + h) * D * dtype_size(a.out_dtype);
    from_f32(orow, dst, a.out_dtype, D);
  }
}

// Elements d..d+W-1 of a row of dtype DT as f32.
template <DType DT>
NN_INLINE vf vload_as(const void* row, int64_t d) {
  if constexpr (DT == DType::kF32) return vload(static_cast<const float*>(row) + d);
  else if constexpr (DT == DType::kBF16) return vload_bf16(static_cast<const uint16_t*>(row) + d);
  else return vload_f16(static_cast<const uint16_t*>(row) + d);
}

// The scores and the value sum of one query row (attention_row_task) with keys and values of
// dtype DT read in place and converted in registers, for head dims that are whole vectors.
// p[s] = q . k_s for s < s_end (-inf where masked); returns the largest.
template <DType DT>
NN_INLINE float attn_row_scores(const AttnArgs& a, int64_t b, int64_t t, int64_t hk, const float* q, float* p, int64_t s_end) {
  const int64_t D = a.D;
  float mx = kNegInf;
  for (int64_t s = 0; s < s_end; ++s) {
    if (a.qseg && !attn_visible(a, b, t, s)) {
      p[s] = kNegInf;
      continue;
    }
    const void* k = attn_row(a.k, b, s, hk);
    vf s0 = vzero(), s1 = vzero();  // two chains, as dot()
    int64_t d = 0;
    for (; d + 2 * W <= D; d += 2 * W) {
      s0 = vfma(vload_as<DT>(k, d), vload(q + d), s0);
      s1 = vfma(vload_as<DT>(k, d + W), vload(q + d + W), s1);
    }
    if (d < D) s0 = vfma(vload_as<DT>(k, d), vload(q + d), s0);
    p[s] = vhsum(vadd(s0, s1));
    mx = std::max(mx, p[s]);
  }
  return mx;
}
// o += p[s] v_s for s < s_end with p[s] != 0.
template <DType DT>
NN_INLINE void attn_row_values(const AttnArgs& a, int64_t b, int64_t hk, const float* p, int64_t s_end, float* o) {
  for (int64_t s = 0; s < s_end; ++s) {
    if (p[s] == 0.0f) continue;
    const void* v = attn_row(a.v, b, s, hk);
    const vf ps = vset1(p[s]);
    for (int64_t d = 0; d < a.D; d += W) vstore(o + d, vfma(ps, vload_as<DT>(v, d), vload(o + d)));
  }
}

// Forward of one query row t of head h (decoding: T = 1, or a few tokens being verified).
// The tiled task above puts queries in the vector lanes, so one query would use 1 lane in 16;
// here the lanes run along D instead: a dot product per visible key, an exact softmax over the
// row (scores fit in scratch: S floats), then the probability-weighted sum of value rows.
// scratch: attention_row_scratch_floats(D, S).
NN_FN void attention_row_task(const AttnArgs& a, int64_t b, int64_t h, int64_t t, float* scratch) {
  const int64_t D = a.D, T = a.T, S = a.S;
  const int64_t hk = h / (a.Hq / a.Hkv);
  float* qrow = scratch;   // (D) query times scale
  float* orow = qrow + D;  // (D) unnormalised output
  float* row = orow + D;   // (D) one key or value row as f32 (when not f32 already)
  float* p = row + D;      // (S) scores, then exp(score - max)
  to_f32(attn_row(a.q, b, t, h), a.q.dtype, qrow, D);
  scale_row(qrow, D, a.scale);
  const int64_t s_end = a.causal ? std::min(S, t + 1 + S - T) : S;
  // Head dims of whole vectors read bf16/f16 keys and values in place (converted in registers);
  // others convert each row into `row` first.
  const bool whole = D % W == 0 && a.k.dtype == a.v.dtype;
  float mx = kNegInf;
  if (whole) {
    if (a.k.dtype == DType::kF32) mx = attn_row_scores<DType::kF32>(a, b, t, hk, qrow, p, s_end);
    else if (a.k.dtype == DType::kBF16) mx = attn_row_scores<DType::kBF16>(a, b, t, hk, qrow, p, s_end);
    else mx = attn_row_scores<DType::kF16>(a, b, t, hk, qrow, p, s_end);
  } else {
    for (int64_t s = 0; s < s_end; ++s) {
      if (a.qseg && !attn_visible(a, b, t, s)) {
        p[s] = kNegInf;
        continue;
      }
      int64_t ld;
      const float* k = attn_rows_f32(a.k, b, s, 1, hk, D, row, &ld);
      p[s] = dot(qrow, k, D);
      mx = std::max(mx, p[s]);
    }
  }
  float& lse = a.lse[(b * a.Hq + h) * T + t];
  char* dst = static_cast<char*>(a.out) + ((b * T + t) * a.Hq + h) * D * dtype_size(a.out_dtype);
  if (mx == kNegInf) {  // a query that sees no key: output 0
    zero_row(orow, D);
    lse = kNegInf;
    from_f32(orow, dst, a.out_dtype, D);
    return;
  }
  const float sum = exp_shift(p, p, s_end, mx);
  zero_row(orow, D);
  if (whole && a.v.dtype == DType::kF32) attn_row_values<DType::kF32>(a, b, hk, p, s_end, orow);
  else if (whole && a.v.dtype == DType::kBF16) attn_row_values<DType::kBF16>(a, b, hk, p, s_end, orow);
  else if (whole) attn_row_values<DType::kF16>(a, b, hk, p, s_end, orow);
  for (int64_t s = 0; s < s_end && !whole; ++s) {
    if (p[s] == 0.0f) continue;
    int64_t ld;
    const float* v = attn_rows_f32(a.v, b, s, 1, hk, D, row, &ld);
    const vf ps = vset1(p[s]);
    int64_t d = 0;
    for (; d + W <= D; d += W) vstore(orow + d, vfma(ps, vload(v + d), vload(orow + d)));
    if (d < D) {
      const int r = static_cast<int>(D - d);
      vstore_part(orow + d, vfma(ps, vload_part(v + d, r, 0.0f), vload_part(orow + d, r, 0.0f)), r);
    }
  }
  scale_row(orow, D, 1.0f / sum);
  lse = mx + std::log(sum);
  from_f32(orow, dst, a.out_dtype, D);
}

// dS = P * (dP - drow), in place in dP.
NN_FN void attn_dscores_row(const float* p, float* dp, int64_t n, float drow) {
  const vf dr = vset1(drow);
  int64_t i = 0;
  for (; i + W <= n; i += W) vstore(dp + i, vmul(vload(p + i), vsub(vload(dp + i), dr)));
  if (i < n) {
    int k = static_cast<int>(n - i);
    vstore_part(dp + i, vmul(vload_part(p + i, k, 0.0f), vsub(vload_part(dp + i, k, 0.0f), dr)), k);
  }
}

// Backward of keys [s_begin, s_end) of kv head hk (FlashAttention-2's order: key tiles
// outside, every query head of the group and every query tile inside). The task owns the
// dk and dv rows of its keys; query gradients are added into dq_acc.
NN_FN void attention_backward_task(const AttnArgs& a, int64_t b, int64_t hk, int64_t s_begin, int64_t s_end,
                                   float* dq_acc, float* scratch) {
  const int64_t D = a.D, T = a.T, S = a.S, Hq = a.Hq;
  const int64_t group = a.Hq / a.Hkv;
  const int64_t off = S - T;
  float* Kf = scratch;                 // (BK, D) key tile
  float* Kt = Kf + kBlockK * D;        // (D, BK) key tile transposed
  float* Vf = Kt + D * kBlockK;        // (BK, D) value tile
  float* Vt = Vf + kBlockK * D;        // (D, BK) value tile transposed
  float* dK = Vt + D * kBlockK;        // (BK, D) key gradient of the tile
  float* dV = dK + kBlockK * D;        // (BK, D) value gradient of the tile
  float* Qf = dV + kBlockK * D;        // (BQ, D) queries
  float* dO = Qf + kBlockQ * D;        // (BQ, D) output gradient
  float* P = dO + kBlockQ * D;         // (BQ, BK) probabilities
  float* dP = P + kBlockQ * kBlockK;   // (BQ, BK) probability gradient, then score gradient

  for (int64_t s0 = s_begin; s0 < s_end; s0 += kBlockK) {
    const int64_t nk = std::min(kBlockK, s_end - s0);
    for (int64_t c = 0; c < nk; ++c) {
      to_f32(attn_row(a.k, b, s0 + c, hk), a.k.dtype, Kf + c * D, D);
      to_f32(attn_row(a.v, b, s0 + c, hk), a.v.dtype, Vf + c * D, D);
    }
    transpose(Kf, nk, D, D, Kt, kBlockK);
    transpose(Vf, nk, D, D, Vt, kBlockK);
    zero_row(dK, nk * D);
    zero_row(dV, nk * D);
    // Queries before t_first see none of these keys.
    const int64_t t_first = a.causal ? std::max<int64_t>(0, s0 - off) : 0;
    for (int64_t h = hk * group; h < (hk + 1) * group; ++h) {
      for (int64_t t0 = t_first; t0 < T; t0 += kBlockQ) {
        const int64_t nq = std::min(kBlockQ, T - t0);
        for (int64_t r = 0; r < nq; ++r) {
          to_f32(attn_row(a.q, b, t0 + r, h), a.q.dtype, Qf + r * D, D);
          to_f32(attn_row(a.dout, b, t0 + r, h), a.dout.dtype, dO + r * D, D);
        }
        // P = exp(scale * q.k - lse), 0 where masked.
        gemm<false>(nq, nk, D, a.scale, Qf, D, Kt, kBlockK, P, kBlockK, false);
        for (int64_t r = 0; r < nq; ++r) {
          const float lse = a.lse[(b * Hq + h) * T + t0 + r];
          if (lse == kNegInf) zero_row(P + r * kBlockK, nk);
          else exp_shift(P + r * kBlockK, P + r * kBlockK, nk, lse);
        }
        if (attn_tile_masked(a, t0, s0, nk)) {
          for (int64_t r = 0; r < nq; ++r)
            for (int64_t c = 0; c < nk; ++c)
              if (!attn_visible(a, b, t0 + r, s0 + c)) P[r * kBlockK + c] = 0.0f;
        }
        // dV += P^T dO
        gemm<true>(nk, D, nq, 1.0f, P, kBlockK, dO, D, dV, D, true);
        // dP = dO V^T, then dS = P * (dP - rowsum(dO * O))
        gemm<false>(nq, nk, D, 1.0f, dO, D, Vt, kBlockK, dP, kBlockK, false);
        for (int64_t r = 0; r < nq; ++r) {
          attn_dscores_row(P + r * kBlockK, dP + r * kBlockK, nk, a.drow[(b * Hq + h) * T + t0 + r]);
        }
        // dQ += scale * dS K; dK += scale * dS^T Q
        gemm<false>(nq, D, nk, a.scale, dP, kBlockK, Kf, D, dq_acc + ((b * T + t0) * Hq + h) * D, Hq * D, true);
        gemm<true>(nk, D, nq, a.scale, dP, kBlockK, Qf, D, dK, D, true);
      }
    }
    const int64_t esize = dtype_size(a.grad_dtype);
    for (int64_t c = 0; c < nk; ++c) {
      const int64_t row = ((b * S + s0 + c) * a.Hkv + hk) * D;
      from_f32(dK + c * D, static_cast<char*>(a.dk) + row * esize, a.grad_dtype, D);
      from_f32(dV + c * D, static_cast<char*>(a.dv) + row * esize, a.grad_dtype, D);
    }
  }
}
