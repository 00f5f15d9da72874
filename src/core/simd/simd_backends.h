// The kernel tables of each SIMD backend (kernels_<level>.cpp), for the
// dispatcher (simd_dispatch.cpp). Nothing outside src/core/simd uses them:
// callers go through KernelsFor / ActiveKernels / Sq8KernelsFor /
// FastScanKernelsFor.
//
// Every kernel works on any length n >= 0, reads only its inputs' first n
// elements (the SSE and AVX2 kernels finish with a scalar loop, the AVX-512
// ones with a masked load), and never allocates or throws.
#pragma once

#include "gigavector/quant/pq_fastscan.h"
#include "gigavector/quant/sq8.h"
#include "gigavector/simd/distance_kernels.h"
#include "simd_reduce.h"

namespace gigavector {
namespace simd {

extern const DistanceKernels kScalarDistance;
extern const Sq8Kernels kScalarSq8;
extern const FastScanKernels kScalarFastScan;
#if GV_X86
extern const FastScanKernels kAvx2FastScan;
extern const FastScanKernels kAvx512FastScan;
extern const DistanceKernels kSseDistance;
extern const DistanceKernels kAvx2Distance;
extern const Sq8Kernels kAvx2Sq8;
extern const DistanceKernels kAvx512Distance;
extern const Sq8Kernels kAvx512Sq8;
#endif

}  // namespace simd
}  // namespace gigavector
