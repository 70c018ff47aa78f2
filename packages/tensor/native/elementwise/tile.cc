#include "tile.h"

#include <algorithm>

namespace lmflow {
namespace ew {
namespace {

template <DType D, typename C>
struct LoadContiguous {
  static LMFLOW_INLINE void run(const typename Elem<D>::T* p, C* out, int64_t n) {
    for (int64_t i = 0; i < n; ++i) out[i] = load_as<D, C>(p[i]);
  }
};

template <DType D, typename C>
struct StoreContiguous {
  static LMFLOW_INLINE void run(const C* values, typename Elem<D>::T* p, int64_t n) {
    for (int64_t i = 0; i < n; ++i) p[i] = store_from<D, C>(values[i]);
  }
};

}  // namespace

template <typename C>
const C* load_run(DType d, const char* p, int64_t stride, int64_t n, C* buf) {
  if (d == dtype_of<C>() && stride == 1) return reinterpret_cast<const C*>(p);
  visit_dtype(d, [&](auto tag) {
    constexpr DType D = decltype(tag)::value;
    using T = typename Elem<D>::T;
    const T* src = reinterpret_cast<const T*>(p);
    if (stride == 1) {
      simd_call<LoadContiguous<D, C>>(src, buf, n);
    } else if (stride == 0) {
      std::fill(buf, buf + n, load_as<D, C>(src[0]));
    } else {
      for (int64_t i = 0; i < n; ++i) buf[i] = load_as<D, C>(src[i * stride]);
    }
  });
  return buf;
}

template <typename O>
void store_run(const O* values, DType d, char* p, int64_t stride, int64_t n) {
  // u8 results (comparisons) are exact in either compute type.
  using C = std::conditional_t<std::is_same_v<O, uint8_t>, double, O>;
  visit_dtype(d, [&](auto tag) {
    constexpr DType D = decltype(tag)::value;
    using T = typename Elem<D>::T;
    T* dst = reinterpret_cast<T*>(p);
    if constexpr (std::is_same_v<O, uint8_t>) {
      for (int64_t i = 0; i < n; ++i) dst[i * stride] = store_from<D, C>(static_cast<C>(values[i]));
    } else if (stride == 1) {
      simd_call<StoreContiguous<D, C>>(values, dst, n);
    } else {
      for (int64_t i = 0; i < n; ++i) dst[i * stride] = store_from<D, C>(values[i]);
    }
  });
}

template const float* load_run<float>(DType, const char*, int64_t, int64_t, float*);
template const double* load_run<double>(DType, const char*, int64_t, int64_t, double*);
template void store_run<float>(const float*, DType, char*, int64_t, int64_t);
template void store_run<double>(const double*, DType, char*, int64_t, int64_t);
template void store_run<uint8_t>(const uint8_t*, DType, char*, int64_t, int64_t);

}  // namespace ew
}  // namespace lmflow
