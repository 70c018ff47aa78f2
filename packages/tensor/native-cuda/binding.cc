// The N-API face of the CUDA library (Node-API's C interface, stable across Node versions, so
// one build serves every Node >= 18). Kernel functions take one Float64Array: the device
// index, then the operands as src/backends/cuda/args.ts packs them. C++ exceptions become
// JavaScript errors carrying the message.
#include <node_api.h>

#include <cstring>
#include <exception>
#include <stdexcept>
#include <string>

#include "common.h"
#include "ops.h"
#include "profile.h"
#include "runtime.h"

namespace lmcuda {
std::string blas_library_path();
void set_tf32(bool on);
bool tf32();
}  // namespace lmcuda

namespace {

using lmcuda::Args;
using KernelFn = void (*)(Args&);

struct Kernel {
  const char* name;
  KernelFn fn;
};

const Kernel kKernels[] = {
    {"fill", lmcuda::k_fill},
    {"copy", lmcuda::k_copy},
    {"random", lmcuda::k_random},
    {"unary", lmcuda::k_unary},
    {"unaryGrad", lmcuda::k_unary_grad},
    {"binary", lmcuda::k_binary},
    {"compare", lmcuda::k_compare},
    {"scalar", lmcuda::k_scalar},
    {"where", lmcuda::k_where},
    {"reduce", lmcuda::k_reduce},
    {"argmax", lmcuda::k_argmax},
    {"indexSelect", lmcuda::k_index_select},
    {"indexAdd", lmcuda::k_index_add},
    {"gather", lmcuda::k_gather},
    {"scatterAdd", lmcuda::k_scatter_add},
    {"matmul", lmcuda::k_matmul},
    {"softmax", lmcuda::k_softmax},
    {"softmaxGrad", lmcuda::k_softmax_grad},
    {"logSoftmax", lmcuda::k_log_softmax},
    {"logSoftmaxGrad", lmcuda::k_log_softmax_grad},
    {"rmsNorm", lmcuda::k_rms_norm},
    {"rmsNormGrad", lmcuda::k_rms_norm_grad},
    {"layerNorm", lmcuda::k_layer_norm},
    {"layerNormGrad", lmcuda::k_layer_norm_grad},
    {"rope", lmcuda::k_rope},
    {"crossEntropy", lmcuda::k_cross_entropy},
    {"crossEntropyGrad", lmcuda::k_cross_entropy_grad},
    {"attention", lmcuda::k_attention},
    {"attentionGrad", lmcuda::k_attention_grad},
    {"adamw", lmcuda::k_adamw},
    {"nf4Dequantize", lmcuda::k_nf4_dequantize},
    {"nf4Matmul", lmcuda::k_nf4_matmul},
};

void throw_js(napi_env env, const char* message) { napi_throw_error(env, nullptr, message); }

napi_value undefined(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}
napi_value number(napi_env env, double v) {
  napi_value r;
  napi_create_double(env, v, &r);
  return r;
}
napi_value boolean(napi_env env, bool v) {
  napi_value r;
  napi_get_boolean(env, v, &r);
  return r;
}
napi_value string(napi_env env, const std::string& s) {
  napi_value r;
  napi_create_string_utf8(env, s.c_str(), s.size(), &r);
  return r;
}
void set(napi_env env, napi_value obj, const char* key, napi_value v) { napi_set_named_property(env, obj, key, v); }

// Up to 4 arguments of the current call.
struct CallArgs {
  size_t argc = 4;
  napi_value argv[4];
  void* data = nullptr;
  CallArgs(napi_env env, napi_callback_info info) { napi_get_cb_info(env, info, &argc, argv, nullptr, &data); }
};

double arg_number(napi_env env, const CallArgs& a, size_t i) {
  double v = 0;
  if (i >= a.argc || napi_get_value_double(env, a.argv[i], &v) != napi_ok) throw std::runtime_error("lmflow_cuda: expected a number argument");
  return v;
}

// The bytes of a typed array argument.
void* typed_bytes(napi_env env, const CallArgs& a, size_t i, size_t* bytes) {
  napi_typedarray_type type;
  size_t length = 0, offset = 0;
  void* data = nullptr;
  napi_value buffer;
  if (i >= a.argc || napi_get_typedarray_info(env, a.argv[i], &type, &length, &data, &buffer, &offset) != napi_ok) {
    throw std::runtime_error("lmflow_cuda: expected a typed array argument");
  }
  size_t item = 1;
  switch (type) {
    case napi_int16_array: case napi_uint16_array: item = 2; break;
    case napi_int32_array: case napi_uint32_array: case napi_float32_array: item = 4; break;
    case napi_float64_array: case napi_bigint64_array: case napi_biguint64_array: item = 8; break;
    default: item = 1;
  }
  *bytes = length * item;
  return data;
}

template <typename F>
napi_value guarded(napi_env env, F&& f) {
  try {
    return f();
  } catch (const std::exception& e) {
    throw_js(env, e.what());
    return nullptr;
  }
}

napi_value kernel_entry(napi_env env, napi_callback_info info) {
  CallArgs a(env, info);
  const Kernel* k = static_cast<const Kernel*>(a.data);
  return guarded(env, [&]() -> napi_value {
    size_t bytes = 0;
    const double* values = static_cast<const double*>(typed_bytes(env, a, 0, &bytes));
    const size_t count = a.argc > 1 ? static_cast<size_t>(arg_number(env, a, 1)) : bytes / sizeof(double);
    Args args(values, count, k->name);
    lmcuda::select_device(static_cast<int>(args.i64()));
    if (lmcuda::profiling()) {
      const lmcuda::ProfileToken t = lmcuda::profile_begin(k->name);
      k->fn(args);
      lmcuda::profile_end(t);
    } else {
      k->fn(args);
    }
    return undefined(env);
  });
}

napi_value js_probe(napi_env env, napi_callback_info) {
  return guarded(env, [&]() -> napi_value {
    const lmcuda::ProbeResult p = lmcuda::probe();
    napi_value obj;
    napi_create_object(env, &obj);
    set(env, obj, "count", number(env, p.count));
    set(env, obj, "error", string(env, p.error));
    set(env, obj, "driverVersion", number(env, p.driver_version));
    set(env, obj, "runtimeVersion", number(env, p.runtime_version));
    return obj;
  });
}

napi_value js_device_info(napi_env env, napi_callback_info info) {
  CallArgs a(env, info);
  return guarded(env, [&]() -> napi_value {
    const lmcuda::DeviceInfo d = lmcuda::device_info(static_cast<int>(arg_number(env, a, 0)));
    napi_value obj;
    napi_create_object(env, &obj);
    set(env, obj, "name", string(env, d.name));
    set(env, obj, "major", number(env, d.major));
    set(env, obj, "minor", number(env, d.minor));
    set(env, obj, "totalBytes", number(env, d.total_bytes));
    set(env, obj, "multiprocessors", number(env, d.multiprocessors));
    return obj;
  });
}

napi_value js_malloc(napi_env env, napi_callback_info info) {
  CallArgs a(env, info);
  return guarded(env, [&]() -> napi_value {
    lmcuda::select_device(static_cast<int>(arg_number(env, a, 0)));
    void* p = lmcuda::device_malloc(static_cast<size_t>(arg_number(env, a, 1)));
    if (!p) {
      napi_value n;
      napi_get_null(env, &n);
      return n;
    }
    return number(env, static_cast<double>(reinterpret_cast<uintptr_t>(p)));
  });
}

napi_value js_free(napi_env env, napi_callback_info info) {
  CallArgs a(env, info);
  return guarded(env, [&]() -> napi_value {
    lmcuda::select_device(static_cast<int>(arg_number(env, a, 0)));
    lmcuda::device_free(reinterpret_cast<void*>(static_cast<uintptr_t>(arg_number(env, a, 1))));
    return undefined(env);
  });
}

napi_value js_mem_info(napi_env env, napi_callback_info info) {
  CallArgs a(env, info);
  return guarded(env, [&]() -> napi_value {
    lmcuda::select_device(static_cast<int>(arg_number(env, a, 0)));
    double f = 0, t = 0;
    lmcuda::mem_info(&f, &t);
    napi_value obj;
    napi_create_object(env, &obj);
    set(env, obj, "freeBytes", number(env, f));
    set(env, obj, "totalBytes", number(env, t));
    return obj;
  });
}

// upload(device, devicePointer, typedArray): copies the whole array to the pointer.
napi_value js_upload(napi_env env, napi_callback_info info) {
  CallArgs a(env, info);
  return guarded(env, [&]() -> napi_value {
    lmcuda::select_device(static_cast<int>(arg_number(env, a, 0)));
    size_t bytes = 0;
    void* src = typed_bytes(env, a, 2, &bytes);
    lmcuda::upload(reinterpret_cast<void*>(static_cast<uintptr_t>(arg_number(env, a, 1))), src, bytes);
    return undefined(env);
  });
}

// download(device, devicePointer, typedArray): fills the array, after all queued work.
napi_value js_download(napi_env env, napi_callback_info info) {
  CallArgs a(env, info);
  return guarded(env, [&]() -> napi_value {
    lmcuda::select_device(static_cast<int>(arg_number(env, a, 0)));
    size_t bytes = 0;
    void* dst = typed_bytes(env, a, 2, &bytes);
    lmcuda::download(dst, reinterpret_cast<const void*>(static_cast<uintptr_t>(arg_number(env, a, 1))), bytes);
    return undefined(env);
  });
}

napi_value js_synchronize(napi_env env, napi_callback_info info) {
  CallArgs a(env, info);
  return guarded(env, [&]() -> napi_value {
    lmcuda::select_device(static_cast<int>(arg_number(env, a, 0)));
    lmcuda::synchronize();
    return undefined(env);
  });
}

napi_value js_record_event(napi_env env, napi_callback_info info) {
  CallArgs a(env, info);
  return guarded(env, [&]() -> napi_value {
    lmcuda::select_device(static_cast<int>(arg_number(env, a, 0)));
    return number(env, lmcuda::record_event());
  });
}

napi_value js_query_event(napi_env env, napi_callback_info info) {
  CallArgs a(env, info);
  return guarded(env, [&]() -> napi_value {
    lmcuda::select_device(static_cast<int>(arg_number(env, a, 0)));
    const bool done = lmcuda::query_event(static_cast<int>(arg_number(env, a, 1)));
    if (done) lmcuda::check_device_error();
    return boolean(env, done);
  });
}

napi_value js_set_tf32(napi_env env, napi_callback_info info) {
  CallArgs a(env, info);
  bool on = false;
  if (a.argc > 0) napi_get_value_bool(env, a.argv[0], &on);
  lmcuda::set_tf32(on);
  return boolean(env, lmcuda::tf32());
}

napi_value js_blas_path(napi_env env, napi_callback_info) {
  return guarded(env, [&]() -> napi_value { return string(env, lmcuda::blas_library_path()); });
}

napi_value js_kernels(napi_env env, napi_callback_info) {
  napi_value arr;
  napi_create_array(env, &arr);
  uint32_t i = 0;
  for (const Kernel& k : kKernels) napi_set_element(env, arr, i++, string(env, k.name));
  return arr;
}

void export_fn(napi_env env, napi_value exports, const char* name, napi_callback cb, void* data = nullptr) {
  napi_value fn;
  napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, data, &fn);
  napi_set_named_property(env, exports, name, fn);
}

napi_value init(napi_env env, napi_value exports) {
  for (const Kernel& k : kKernels) export_fn(env, exports, k.name, kernel_entry, const_cast<Kernel*>(&k));
  export_fn(env, exports, "probe", js_probe);
  export_fn(env, exports, "deviceInfo", js_device_info);
  export_fn(env, exports, "malloc", js_malloc);
  export_fn(env, exports, "free", js_free);
  export_fn(env, exports, "memInfo", js_mem_info);
  export_fn(env, exports, "upload", js_upload);
  export_fn(env, exports, "download", js_download);
  export_fn(env, exports, "synchronize", js_synchronize);
  export_fn(env, exports, "recordEvent", js_record_event);
  export_fn(env, exports, "queryEvent", js_query_event);
  export_fn(env, exports, "setTf32", js_set_tf32);
  export_fn(env, exports, "blasPath", js_blas_path);
  export_fn(env, exports, "kernelNames", js_kernels);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
