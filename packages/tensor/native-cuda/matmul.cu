// Matrix products through cuBLAS, loaded at run time with dlopen (nothing links against it):
// bf16 and f16 on tensor cores with f32 accumulation, f32 in full precision or with TF32
// (setTf32), f64 for gradient checks. cuBLAS is column-major, so out (M, N) row-major is
// computed as out^T = b^T a^T: cuBLAS's "A" is our b and its "B" is our a (plans.ts works out
// the transposes and leading dimensions).
//
// The few declarations below are cuBLAS's public C API (cublas_api.h), restated so that no
// cuBLAS header or library is needed at build time.
#include "common.h"
#include "ops.h"
#include "profile.h"

#include <dlfcn.h>

#include <cstdlib>
#include <string>
#include <vector>

namespace lmcuda {
namespace {

typedef struct cublasContext* cublasHandle_t;
typedef int cublasStatus_t;  // CUBLAS_STATUS_SUCCESS = 0
enum { CUBLAS_OP_N = 0, CUBLAS_OP_T = 1 };
enum { CUBLAS_COMPUTE_32F = 68, CUBLAS_COMPUTE_32F_FAST_TF32 = 77, CUBLAS_COMPUTE_64F = 70 };
enum { CUBLAS_GEMM_DEFAULT = -1 };

using CreateFn = cublasStatus_t (*)(cublasHandle_t*);
using SetStreamFn = cublasStatus_t (*)(cublasHandle_t, cudaStream_t);
using SetWorkspaceFn = cublasStatus_t (*)(cublasHandle_t, void*, size_t);
using GemmStridedBatchedExFn = cublasStatus_t (*)(cublasHandle_t, int, int, int, int, int, const void*, const void*, int, int,
                                                 long long, const void*, int, int, long long, const void*, void*, int, int,
                                                 long long, int, int, int);
using GetStatusStringFn = const char* (*)(cublasStatus_t);

struct Blas {
  void* lt = nullptr;
  void* lib = nullptr;
  std::string path;
  CreateFn create = nullptr;
  SetStreamFn set_stream = nullptr;
  SetWorkspaceFn set_workspace = nullptr;
  GemmStridedBatchedExFn gemm = nullptr;
  GetStatusStringFn status_string = nullptr;
  std::vector<cublasHandle_t> handles;  // per device
  std::vector<void*> workspaces;
};

Blas g_blas;
std::string g_blas_error;
bool g_tf32 = false;

// Candidate folders: LMFLOW_CUDA_LIB_DIRS (':'-separated), then the dynamic loader's own
// search (LD_LIBRARY_PATH, ldconfig), then the toolkit's usual places.
std::vector<std::string> search_dirs() {
  std::vector<std::string> dirs;
  if (const char* env = std::getenv("LMFLOW_CUDA_LIB_DIRS")) {
    std::string s(env);
    size_t start = 0;
    while (start <= s.size()) {
      size_t end = s.find(':', start);
      if (end == std::string::npos) end = s.size();
      if (end > start) dirs.push_back(s.substr(start, end - start));
      start = end + 1;
    }
  }
  dirs.push_back("");  // the loader's search path
  for (const char* d : {"/usr/local/cuda/lib64", "/usr/local/cuda/targets/x86_64-linux/lib", "/usr/lib/x86_64-linux-gnu",
                        "/usr/local/cuda/targets/sbsa-linux/lib", "/usr/lib/aarch64-linux-gnu"}) {
    dirs.push_back(d);
  }
  return dirs;
}

void* open_first(const char* base, std::string* found, std::string* tried) {
  for (const std::string& dir : search_dirs()) {
    for (const char* suffix : {".so.13", ".so.12", ".so"}) {
      const std::string path = (dir.empty() ? "" : dir + "/") + base + suffix;
      // RTLD_GLOBAL: libcublas finds the already loaded libcublasLt by its soname.
      if (void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL)) {
        *found = path;
        return h;
      }
      if (tried->size() < 2000) *tried += "\n  " + path + ": " + dlerror();
    }
  }
  return nullptr;
}

Blas& blas() {
  if (g_blas.gemm) return g_blas;
  if (!g_blas_error.empty()) fail(g_blas_error);
  std::string lt_path, tried;
  g_blas.lt = open_first("libcublasLt", &lt_path, &tried);
  g_blas.lib = open_first("libcublas", &g_blas.path, &tried);
  if (!g_blas.lib) {
    g_blas_error = "matmul on cuda needs cuBLAS (libcublas.so, with libcublasLt.so beside it), which was not found. "
                   "Install the CUDA toolkit's cuBLAS or the nvidia-cublas Python wheel and name its lib folder in "
                   "LMFLOW_CUDA_LIB_DIRS. Tried:" + tried;
    fail(g_blas_error);
  }
  g_blas.create = reinterpret_cast<CreateFn>(dlsym(g_blas.lib, "cublasCreate_v2"));
  g_blas.set_stream = reinterpret_cast<SetStreamFn>(dlsym(g_blas.lib, "cublasSetStream_v2"));
  g_blas.set_workspace = reinterpret_cast<SetWorkspaceFn>(dlsym(g_blas.lib, "cublasSetWorkspace_v2"));
  g_blas.status_string = reinterpret_cast<GetStatusStringFn>(dlsym(g_blas.lib, "cublasGetStatusString"));
  g_blas.gemm = reinterpret_cast<GemmStridedBatchedExFn>(dlsym(g_blas.lib, "cublasGemmStridedBatchedEx"));
  if (!g_blas.create || !g_blas.set_stream || !g_blas.gemm) {
    g_blas.gemm = nullptr;
    g_blas_error = "cuBLAS at " + g_blas.path + " lacks cublasCreate_v2, cublasSetStream_v2 or cublasGemmStridedBatchedEx (too old?)";
    fail(g_blas_error);
  }
  return g_blas;
}

void check_blas(cublasStatus_t s, const char* what) {
  if (s == 0) return;
  const char* text = g_blas.status_string ? g_blas.status_string(s) : "unknown";
  fail(std::string("matmul: ") + what + " failed: cuBLAS status " + std::to_string(s) + " (" + text + ")");
}

cublasHandle_t handle() {
  Blas& b = blas();
  const int dev = current_device();
  if (static_cast<int>(b.handles.size()) <= dev) {
    b.handles.resize(dev + 1, nullptr);
    b.workspaces.resize(dev + 1, nullptr);
  }
  if (!b.handles[dev]) {
    check_blas(b.create(&b.handles[dev]), "cublasCreate");
    check_blas(b.set_stream(b.handles[dev], stream()), "cublasSetStream");
    if (b.set_workspace) {
      // 32 MiB, what NVIDIA recommends for Hopper; without it cuBLAS allocates on the side.
      const size_t bytes = 32u << 20;
      check(cudaMalloc(&b.workspaces[dev], bytes), "matmul", "cudaMalloc (cuBLAS workspace)");
      check_blas(b.set_workspace(b.handles[dev], b.workspaces[dev], bytes), "cublasSetWorkspace");
    }
  }
  return b.handles[dev];
}

int cuda_type(int dt) {
  switch (dt) {
    case F32: return CUDA_R_32F;
    case BF16: return CUDA_R_16BF;
    case F16: return CUDA_R_16F;
    case F64: return CUDA_R_64F;
    default: fail(std::string("matmul: ") + dtype_name(dt) + " matrices are not supported on cuda (expected f32, bf16, f16 or f64)");
  }
}

}  // namespace

std::string blas_library_path() {
  try {
    return blas().path;
  } catch (const std::exception& e) {
    return std::string("unavailable: ") + e.what();
  }
}

void set_tf32(bool on) { g_tf32 = on; }
bool tf32() { return g_tf32; }

// Arguments (plans.ts matmulPlan): dtype, a ptr, b ptr, out ptr (element pointers, offsets
// applied), M, N, K, transA (of cuBLAS's A = our b), lda, transB (our a), ldb, ldc,
// alpha, beta, then the batch: count of loop levels L, and per level: size, strideA, strideB,
// strideC (elements; the last level runs as one strided-batched call).
void k_matmul(Args& args) {
  const int dt = static_cast<int>(args.i64());
  const int type = cuda_type(dt);
  const size_t item = static_cast<size_t>(item_size(dt));
  char* a = reinterpret_cast<char*>(static_cast<uintptr_t>(args.num()));
  char* b = reinterpret_cast<char*>(static_cast<uintptr_t>(args.num()));
  char* c = reinterpret_cast<char*>(static_cast<uintptr_t>(args.num()));
  const int M = static_cast<int>(args.i64()), N = static_cast<int>(args.i64()), K = static_cast<int>(args.i64());
  const int trans_a = args.flag() ? CUBLAS_OP_T : CUBLAS_OP_N;
  const int lda = static_cast<int>(args.i64());
  const int trans_b = args.flag() ? CUBLAS_OP_T : CUBLAS_OP_N;
  const int ldb = static_cast<int>(args.i64());
  const int ldc = static_cast<int>(args.i64());
  const double alpha = args.num(), beta = args.num();
  const int levels = static_cast<int>(args.i64());
  if (levels < 1 || levels > kMaxDims) fail("matmul: bad batch plan (internal error)");
  int64_t size[kMaxDims], sa[kMaxDims], sb[kMaxDims], sc[kMaxDims];
  for (int l = 0; l < levels; l++) {
    size[l] = args.i64();
    sa[l] = args.i64();
    sb[l] = args.i64();
    sc[l] = args.i64();
  }
  if (M == 0 || N == 0) return;
  if (profiling()) {
    int64_t batch = 1;
    for (int l = 0; l < levels; l++) batch *= size[l];
    profile_label(std::string("matmul ") + dtype_name(dt) + " " + std::to_string(M) + "x" + std::to_string(N) + "x" + std::to_string(K) +
                  (trans_b == CUBLAS_OP_T ? " aT" : "") + (trans_a == CUBLAS_OP_T ? " bT" : "") + (batch > 1 ? " x" + std::to_string(batch) : "") +
                  (levels > 1 ? " (" + std::to_string(levels - 1) + " host loops)" : ""));
  }
  cublasHandle_t h = handle();
  const float alpha32 = static_cast<float>(alpha), beta32 = static_cast<float>(beta);
  const void* palpha = dt == F64 ? static_cast<const void*>(&alpha) : static_cast<const void*>(&alpha32);
  const void* pbeta = dt == F64 ? static_cast<const void*>(&beta) : static_cast<const void*>(&beta32);
  const int compute = dt == F64 ? CUBLAS_COMPUTE_64F : (dt == F32 && g_tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F);
  // Outer levels loop on the host; the innermost is one strided-batched call.
  int64_t outer = 1;
  for (int l = 0; l < levels - 1; l++) outer *= size[l];
  const int last = levels - 1;
  for (int64_t o = 0; o < outer; o++) {
    int64_t rest = o, oa = 0, ob = 0, oc = 0;
    for (int l = levels - 2; l >= 0; l--) {
      const int64_t i = rest % size[l];
      rest /= size[l];
      oa += i * sa[l];
      ob += i * sb[l];
      oc += i * sc[l];
    }
    // cuBLAS's A is our b, its B our a (see the top of this file).
    check_blas(g_blas.gemm(h, trans_a, trans_b, N, M, K, palpha, b + ob * item, type, lda, sb[last], a + oa * item, type, ldb,
                           sa[last], pbeta, c + oc * item, type, ldc, sc[last], static_cast<int>(size[last]), compute,
                           CUBLAS_GEMM_DEFAULT),
               "cublasGemmStridedBatchedEx");
  }
}

}  // namespace lmcuda
