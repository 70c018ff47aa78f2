// Register-tiled f32 products for the NF4 matmul (nf4-matmul.cc), on panels of W it has
// already dequantized. Each has AVX-512, AVX2 and scalar versions, picked by `level`.
#pragma once

#include <cstdint>

#include "common/cpu-features.h"

namespace lmflow {
namespace optim {

constexpr int kDotRows = 4;        // dot-product tile: rows of x
constexpr int kDotCols = 4;        //                   rows of W
constexpr int64_t kColPanel = 32;  // outer-product tile: columns (= panel width)
constexpr int kOuterRows = 6;      //                     rows of x

// tile[i * kDotCols + j] = dot(x[i][0, K), w[j][0, K)).
void dot_tile(SimdLevel level, const float* const* x, const float* const* w, int64_t K, float* tile);

// tile[i * kColPanel + j] = sum over r < R of x[i][r] * panel[r * kColPanel + j].
void outer_tile(SimdLevel level, const float* const* x, const float* panel, int64_t R, float* tile);

}  // namespace optim
}  // namespace lmflow
