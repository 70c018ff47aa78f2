// Scaled dot-product attention with grouped-query heads, causal masks (T != S for a KV
// cache) and segment ids, forward and backward, in the (B, T, H, D) layout.
//
// Forward: one task per (batch, query head, tile of kBlockQ queries), scheduled dynamically
// (causal tiles differ in cost); each task runs an online softmax over key tiles, so memory
// per task is one score tile, not a (T, S) matrix. lse is kept for the backward.
// Backward: rowsum(dout * out) first, then one task per (batch, kv head, chunk of keys)
// that recomputes the probabilities from q, k and lse tile by tile and owns the dk, dv rows
// of its keys. Query gradients go to an f32 accumulator per key chunk, summed at the end;
// there are more chunks than one only when batch x kv heads would leave threads idle.
#include <napi.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <vector>

#include "common/thread-pool.h"
#include "nn/binding-util.h"
#include "nn/bindings.h"

namespace lmflow {
namespace nn {
namespace {

AttnOperand operand(const View& v) {
  AttnOperand o;
  o.data = element_ptr(v, 0);
  o.dtype = v.dtype;
  o.stride_b = v.strides[0];
  o.stride_t = v.strides[1];
  o.stride_h = v.strides[2];
  return o;
}

// Parses q, k, v, the options and optional segment ids (shared by forward and backward).
AttnArgs parse_common(const Napi::CallbackInfo& info, const char* op, int first_option, View& q, View& k, View& v) {
  Napi::Env env = info.Env();
  std::string o(op);
  q = view_from_js(info[0], (o + ": q").c_str());
  k = view_from_js(info[1], (o + ": k").c_str());
  v = view_from_js(info[2], (o + ": v").c_str());
  for (const View* t : {&q, &k, &v}) {
    const char* name = t == &q ? "q (B, T, Hq, D)" : t == &k ? "k (B, S, Hkv, D)" : "v (B, S, Hkv, D)";
    require_float(env, *t, op, name);
    require_rank(env, *t, 4, op, name);
    require_dense_rows(env, *t, op, name);
  }
  AttnArgs a;
  a.B = q.shape[0];
  a.T = q.shape[1];
  a.Hq = q.shape[2];
  a.D = q.shape[3];
  a.S = k.shape[1];
  a.Hkv = k.shape[2];
  require_shape(env, k, {a.B, a.S, a.Hkv, a.D}, op, "k", "(B, S, Hkv, D) matching q");
  require_same_shape(env, k, v, op, "k", "v");
  if (a.Hkv == 0 || a.Hq % a.Hkv != 0) {
    throw_js_error(env, o + ": the query heads of q " + shape_string(q) + " must be a multiple of the kv heads of k " +
                            shape_string(k));
  }
  a.scale = info[first_option].As<Napi::Number>().FloatValue();
  a.causal = info[first_option + 1].ToBoolean().Value();
  View qs = optional_view_from_js(info[first_option + 2], (o + ": qSegments").c_str());
  View ks = optional_view_from_js(info[first_option + 3], (o + ": kSegments").c_str());
  if (!qs.data != !ks.data) throw_js_error(env, o + ": give both qSegments and kSegments, or neither");
  if (qs.data) {
    require_dtype(env, qs, DType::kI32, op, "qSegments");
    require_dtype(env, ks, DType::kI32, op, "kSegments");
    require_shape(env, qs, {a.B, a.T}, op, "qSegments", "(B, T)");
    require_shape(env, ks, {a.B, a.S}, op, "kSegments", "(B, S)");
    a.qseg = reinterpret_cast<const int32_t*>(element_ptr(qs, 0));
    a.qseg_sb = qs.strides[0];
    a.qseg_st = qs.strides[1];
    a.kseg = reinterpret_cast<const int32_t*>(element_ptr(ks, 0));
    a.kseg_sb = ks.strides[0];
    a.kseg_st = ks.strides[1];
  }
  a.q = operand(q);
  a.k = operand(k);
  a.v = operand(v);
  return a;
}

// Runs task(i, thread) for i in [0, n) on the pool, each thread taking the next index.
// Elastic: threads that are not awake in time are not waited for (a decoding step's attention
// is a few tasks of microseconds each; see parallel_run_elastic).
template <typename Task>
void run_dynamic(int64_t n, const Task& task, bool elastic = false) {
  std::atomic<int64_t> next{0};
  auto job = [&](int tid, int) {
    for (int64_t i = next.fetch_add(1); i < n; i = next.fetch_add(1)) task(i, tid);
  };
  if (n == 1) job(0, 1);
  else if (elastic) parallel_run_elastic(job);
  else parallel_run(job);
}

// Up to this many queries the forward runs a row per task (attention_row_task).
constexpr int64_t kMaxRowQueries = 4;
// Below this many query-key products (times the head size) the forward runs on one thread.
constexpr int64_t kMinParallelAttnMacs = int64_t{1} << 17;

}  // namespace

Napi::Value Attention(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "attention";
  View q, k, v;
  AttnArgs a = parse_common(info, op, 5, q, k, v);
  View out = view_from_js(info[3], "attention: out");
  View lse = view_from_js(info[4], "attention: lse");
  require_float(env, out, op, "out");
  require_shape(env, out, {a.B, a.T, a.Hq, a.D}, op, "out", "(B, T, Hq, D)");
  require_contiguous(env, out, op, "out");
  require_dtype(env, lse, DType::kF32, op, "lse");
  require_shape(env, lse, {a.B, a.Hq, a.T}, op, "lse", "(B, Hq, T)");
  require_contiguous(env, lse, op, "lse");
  a.out = element_ptr(out, 0);
  a.out_dtype = out.dtype;
  a.lse = lse.ptr<float>();
  if (out.numel() == 0 && lse.numel() == 0) return env.Undefined();
  const NnKernels& kern = nn_kernels();
  // A few queries (decoding) run one row per task; more run in tiles of kBlockQ queries.
  const bool rows = a.T <= kMaxRowQueries;
  const int64_t tiles = rows ? a.T : (a.T + kBlockQ - 1) / kBlockQ;
  const int64_t floats = rows ? attention_row_scratch_floats(a.D, a.S) : attention_scratch_floats(a.D);
  auto task = [&](int64_t i, int) {
    const int64_t b = i / (a.Hq * tiles), h = (i / tiles) % a.Hq, t = i % tiles;
    if (rows) kern.attention_row_task(a, b, h, t, scratch(0, floats));
    else kern.attention_forward_task(a, b, h, t * kBlockQ, scratch(0, floats));
  };
  // A decoding step (one query per head over a short cache) is a few microseconds of work:
  // the calling thread does it alone rather than hand pieces to threads that may be asleep.
  if (a.B * a.Hq * a.T * a.S * a.D < kMinParallelAttnMacs) {
    for (int64_t i = 0; i < a.B * a.Hq * tiles; ++i) task(i, 0);
  } else {
    run_dynamic(a.B * a.Hq * tiles, task, /*elastic=*/true);
  }
  return env.Undefined();
}

Napi::Value AttentionGrad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "attentionGrad";
  View q, k, v;
  AttnArgs a = parse_common(info, op, 9, q, k, v);
  View out = view_from_js(info[3], "attentionGrad: out");
  View lse = view_from_js(info[4], "attentionGrad: lse");
  View dout = view_from_js(info[5], "attentionGrad: dout");
  View dq = view_from_js(info[6], "attentionGrad: dq");
  View dk = view_from_js(info[7], "attentionGrad: dk");
  View dv = view_from_js(info[8], "attentionGrad: dv");
  for (const View* t : {&out, &dout}) {
    const char* name = t == &out ? "out" : "dout";
    require_float(env, *t, op, name);
    require_shape(env, *t, {a.B, a.T, a.Hq, a.D}, op, name, "(B, T, Hq, D)");
    require_dense_rows(env, *t, op, name);
  }
  require_dtype(env, lse, DType::kF32, op, "lse");
  require_shape(env, lse, {a.B, a.Hq, a.T}, op, "lse", "(B, Hq, T)");
  require_contiguous(env, lse, op, "lse");
  require_float(env, dq, op, "dq");
  require_shape(env, dq, {a.B, a.T, a.Hq, a.D}, op, "dq", "(B, T, Hq, D)");
  require_contiguous(env, dq, op, "dq");
  for (const View* t : {&dk, &dv}) {
    const char* name = t == &dk ? "dk" : "dv";
    require_float(env, *t, op, name);
    require_shape(env, *t, {a.B, a.S, a.Hkv, a.D}, op, name, "(B, S, Hkv, D)");
    require_contiguous(env, *t, op, name);
  }
  if (dk.dtype != dv.dtype) throw_js_error(env, "attentionGrad: dk and dv must have the same dtype");
  a.lse = lse.ptr<float>();
  a.o = operand(out);
  a.dout = operand(dout);
  a.dk = element_ptr(dk, 0);
  a.dv = element_ptr(dv, 0);
  a.grad_dtype = dk.dtype;
  const NnKernels& kern = nn_kernels();
  const int64_t D = a.D, rows = a.B * a.T * a.Hq;

  // drow[b, h, t] = sum_d dout * out: the softmax backward's row term.
  std::vector<float> drow(static_cast<size_t>(rows));
  parallel_for(rows, row_grain(2 * D), [&](int64_t r0, int64_t r1) {
    float* bo = scratch(0, D);
    float* bd = scratch(1, D);
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t b = r / (a.T * a.Hq), t = (r / a.Hq) % a.T, h = r % a.Hq;
      const char* po = static_cast<const char*>(a.o.data) + (b * a.o.stride_b + t * a.o.stride_t + h * a.o.stride_h) * dtype_size(a.o.dtype);
      const char* pd = static_cast<const char*>(a.dout.data) + (b * a.dout.stride_b + t * a.dout.stride_t + h * a.dout.stride_h) * dtype_size(a.dout.dtype);
      kern.to_f32(po, a.o.dtype, bo, D);
      kern.to_f32(pd, a.dout.dtype, bd, D);
      drow[static_cast<size_t>((b * a.Hq + h) * a.T + t)] = kern.dot(bo, bd, D);
    }
  });
  a.drow = drow.data();

  // Key chunks per (batch, kv head): enough tasks for every thread, at most 8 accumulators.
  const int64_t blocks = (a.S + kBlockK - 1) / kBlockK;
  const int64_t base = a.B * a.Hkv;
  const int64_t want = base > 0 ? (4 * num_threads() + base - 1) / base : 1;
  const int64_t chunks = std::max<int64_t>(1, std::min<int64_t>({blocks, want, 8}));
  std::vector<float> dq_acc(static_cast<size_t>(chunks * rows * D), 0.0f);
  const int64_t floats = attention_scratch_floats(D);
  run_dynamic(base * chunks, [&](int64_t i, int) {
    const int64_t b = i / (a.Hkv * chunks), hk = (i / chunks) % a.Hkv, c = i % chunks;
    const int64_t s_begin = std::min(a.S, blocks * c / chunks * kBlockK);
    const int64_t s_end = std::min(a.S, blocks * (c + 1) / chunks * kBlockK);
    if (s_begin < s_end) {
      kern.attention_backward_task(a, b, hk, s_begin, s_end, dq_acc.data() + c * rows * D, scratch(0, floats));
    }
  });
  // dq = the sum of the chunks' accumulators (all zero when S = 0), in dq's dtype.
  parallel_for(rows, row_grain(D * chunks), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      float* acc = dq_acc.data() + r * D;
      for (int64_t c = 1; c < chunks; ++c) {
        const float* part = dq_acc.data() + (c * rows + r) * D;
        for (int64_t d = 0; d < D; ++d) acc[d] += part[d];
      }
      kern.from_f32(acc, element_ptr(dq, r * D), dq.dtype, D);
    }
  });
  return env.Undefined();
}

}  // namespace nn
}  // namespace lmflow
