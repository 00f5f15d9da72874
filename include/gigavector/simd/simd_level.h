// SIMD levels: which the CPU has, which one the kernels run at, and their
// names (the gigavector.simd setting).
//
// The kernels of every level are compiled into the same binary (src/core/simd,
// one backend file per level) and chosen at run time. No Postgres headers.
#pragma once

#include <string>

namespace gigavector {

// SIMD levels, ordered: a CPU that supports one level supports all below it.
enum class SimdLevel : int { kScalar = 0, kSse = 1, kAvx2 = 2, kAvx512 = 3 };

// Highest level the CPU (and OS, for AVX state) supports.
SimdLevel DetectSimdLevel() noexcept;

// Switch the active kernels (distances and codes). Returns false, and
// changes nothing, if the CPU lacks the level.
bool SetActiveSimdLevel(SimdLevel level) noexcept;

// Parse "scalar", "sse", "avx2", "avx512" (also "sse4.2"). Returns false on
// an unknown name.
bool ParseSimdLevel(const char *name, SimdLevel *out) noexcept;

const char *SimdLevelName(SimdLevel level) noexcept;

// Space-separated list of the relevant CPU features present, e.g.
// "sse4.2 avx avx2 fma avx512f". (Allocates: may throw std::bad_alloc.)
std::string CpuFeatureString();

}  // namespace gigavector
