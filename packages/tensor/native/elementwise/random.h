// The counter-based generator of src/random.ts, bit for bit: value i depends only on the
// seed and the counter, so the CPU backend draws exactly the reference's numbers.
// The mixer is Chris Wellons' "lowbias32" integer hash (32-bit multiplies only).
#pragma once

#include <cmath>
#include <cstdint>

namespace lmflow {
namespace ew {

inline uint32_t hash32(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352du;
  x ^= x >> 15;
  x *= 0x846ca68bu;
  return x ^ (x >> 16);
}

struct RandomKeys {
  uint32_t k1, k2;
};

// seed: an integer up to 2^53, split into 32-bit halves as the TypeScript side does.
inline RandomKeys seed_keys(uint64_t seed) {
  uint32_t lo = static_cast<uint32_t>(seed);
  uint32_t hi = static_cast<uint32_t>(seed >> 32);
  uint32_t k1 = hash32(lo ^ 0x9e3779b9u);
  uint32_t k2 = hash32(hi ^ k1 ^ 0x85ebca6bu);
  return {k1, k2};
}

inline uint32_t random_bits(RandomKeys keys, uint64_t counter) {
  uint32_t lo = static_cast<uint32_t>(counter);
  uint32_t hi = static_cast<uint32_t>(counter >> 32);
  return hash32(hash32(lo ^ keys.k1) + hash32(hi ^ keys.k2));
}

// Uniform in [0, 1) with 24 random bits (exact in f32 and double).
inline double uniform_at(RandomKeys keys, uint64_t counter) {
  return static_cast<double>(random_bits(keys, counter) >> 8) * 5.9604644775390625e-8;
}

// A standard normal from counters c and c + 1 (Box-Muller), in double as the reference.
inline double normal_at(RandomKeys keys, uint64_t counter) {
  double u1 = uniform_at(keys, counter);
  double u2 = uniform_at(keys, counter + 1);
  return std::sqrt(-2.0 * std::log(1.0 - u1)) * std::cos(6.283185307179586 * u2);
}

// 1 with probability p: the 32 random bits compared with floor(p * 2^32), clamped to [0, 2^32].
inline uint64_t bernoulli_threshold(double p) {
  double t = std::floor(p * 4294967296.0);
  if (!(t > 0)) return 0;
  if (t > 4294967296.0) t = 4294967296.0;
  return static_cast<uint64_t>(t);
}

inline double bernoulli_at(RandomKeys keys, uint64_t counter, uint64_t threshold) {
  return random_bits(keys, counter) < threshold ? 1.0 : 0.0;
}

}  // namespace ew
}  // namespace lmflow
