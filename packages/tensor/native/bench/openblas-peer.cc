// Benchmark peer: OpenBLAS's sgemm, loaded with dlopen only when a benchmark asks for it
// (tools/bench/gemm.ts), so neither the package nor its tests need OpenBLAS installed.
//
// On AMD CPUs with AVX-512, OpenBLAS's runtime dispatch may pick its Zen/Haswell (AVX2)
// kernels (and an environment may preset OPENBLAS_CORETYPE=Haswell): OPENBLAS_CORETYPE is
// set to SkylakeX before loading so that it runs its AVX-512 kernels, the fair comparison
// for ours. The benchmark prints the kernel OpenBLAS reports.
#include <dlfcn.h>
#include <napi.h>

#include <cstdlib>
#include <string>

namespace lmflow {
namespace {

// cblas_sgemm(order, transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)
using CblasSgemm = void (*)(int, int, int, int, int, int, float, const float*, int, const float*, int, float, float*, int);
constexpr int kCblasRowMajor = 101, kCblasNoTrans = 111;

struct OpenBlas {
  CblasSgemm sgemm = nullptr;
  void (*set_num_threads)(int) = nullptr;
  int (*get_num_threads)() = nullptr;
  char* (*get_corename)() = nullptr;
  std::string library;
  std::string error;
};

OpenBlas load() {
  OpenBlas lib;
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_is("amd") && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512cd")) {
    setenv("OPENBLAS_CORETYPE", "SkylakeX", 1);
  }
#endif
  const char* candidates[] = {"libopenblas.so.0", "/usr/lib/x86_64-linux-gnu/libopenblas.so.0", "libopenblas.so"};
  void* handle = nullptr;
  for (const char* name : candidates) {
    handle = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (handle) {
      lib.library = name;
      break;
    }
  }
  if (!handle) {
    const char* why = dlerror();
    lib.error = std::string("OpenBLAS not found (libopenblas.so.0): ") + (why ? why : "dlopen failed");
    return lib;
  }
  lib.sgemm = reinterpret_cast<CblasSgemm>(dlsym(handle, "cblas_sgemm"));
  lib.set_num_threads = reinterpret_cast<void (*)(int)>(dlsym(handle, "openblas_set_num_threads"));
  lib.get_num_threads = reinterpret_cast<int (*)()>(dlsym(handle, "openblas_get_num_threads"));
  lib.get_corename = reinterpret_cast<char* (*)()>(dlsym(handle, "openblas_get_corename"));
  if (!lib.sgemm) lib.error = "OpenBLAS loaded from " + lib.library + " but has no cblas_sgemm";
  return lib;
}

const OpenBlas& openblas() {
  static const OpenBlas lib = load();
  return lib;
}

// { available, library, corename, threads, error }; loads OpenBLAS on first use.
Napi::Value PeerInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const OpenBlas& lib = openblas();
  Napi::Object out = Napi::Object::New(env);
  out.Set("available", Napi::Boolean::New(env, lib.error.empty()));
  if (!lib.error.empty()) {
    out.Set("error", Napi::String::New(env, lib.error));
    return out;
  }
  out.Set("library", Napi::String::New(env, lib.library));
  out.Set("corename", Napi::String::New(env, lib.get_corename ? lib.get_corename() : "unknown"));
  out.Set("threads", Napi::Number::New(env, lib.get_num_threads ? lib.get_num_threads() : -1));
  return out;
}

Napi::Value PeerSetThreads(const Napi::CallbackInfo& info) {
  const OpenBlas& lib = openblas();
  if (lib.set_num_threads) lib.set_num_threads(info[0].As<Napi::Number>().Int32Value());
  return info.Env().Undefined();
}

// benchPeerSgemm(a, b, c, M, N, K): c (M x N) = a (M x K) @ b (K x N), row-major Float32Arrays.
Napi::Value PeerSgemm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const OpenBlas& lib = openblas();
  if (!lib.error.empty()) throw Napi::Error::New(env, "benchPeerSgemm: " + lib.error);
  auto a = info[0].As<Napi::Float32Array>(), b = info[1].As<Napi::Float32Array>(), c = info[2].As<Napi::Float32Array>();
  const int M = info[3].As<Napi::Number>().Int32Value(), N = info[4].As<Napi::Number>().Int32Value();
  const int K = info[5].As<Napi::Number>().Int32Value();
  if (static_cast<int64_t>(a.ElementLength()) < int64_t{M} * K || static_cast<int64_t>(b.ElementLength()) < int64_t{K} * N ||
      static_cast<int64_t>(c.ElementLength()) < int64_t{M} * N) {
    throw Napi::RangeError::New(env, "benchPeerSgemm: arrays smaller than M*K, K*N, M*N");
  }
  lib.sgemm(kCblasRowMajor, kCblasNoTrans, kCblasNoTrans, M, N, K, 1.0f, a.Data(), K, b.Data(), N, 0.0f, c.Data(), N);
  return env.Undefined();
}

}  // namespace

void RegisterBench(Napi::Env env, Napi::Object exports) {
  exports.Set("benchPeerInfo", Napi::Function::New(env, PeerInfo));
  exports.Set("benchPeerSetThreads", Napi::Function::New(env, PeerSetThreads));
  exports.Set("benchPeerSgemm", Napi::Function::New(env, PeerSgemm));
}

}  // namespace lmflow
