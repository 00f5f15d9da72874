// What the unit tests that run once per SIMD level share: the levels to
// instantiate and their test names ("sse", not "sse4.2": gtest names allow
// no dot), which a gtest filter can match (valgrind's -*avx512*).
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "gigavector/simd/simd_level.h"

namespace simd_level_params {

inline std::string LevelName(const ::testing::TestParamInfo<gigavector::SimdLevel> &info) {
    static const char *const kNames[] = {"scalar", "sse", "avx2", "avx512"};
    return kNames[(int)info.param];
}

inline auto AllLevels() {
    return ::testing::Values(gigavector::SimdLevel::kScalar, gigavector::SimdLevel::kSse,
                             gigavector::SimdLevel::kAvx2, gigavector::SimdLevel::kAvx512);
}

}  // namespace simd_level_params
