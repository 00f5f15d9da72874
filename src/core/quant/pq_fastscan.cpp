// Fast scan of 4-bit PQ codes: block packing, table quantization and the
// choice of kernel (pq_fastscan.h). The kernels are in src/core/simd.
#include "gigavector/quant/pq_fastscan.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "../simd/simd_backends.h"
#include "gigavector/simd/distance_kernels.h"

namespace gigavector {

void PackFastScanBlock(const uint8_t *codes, int n, int m, uint8_t *block) noexcept {
    std::memset(block, 0, FastScanBlockBytes(m));
    for (int v = 0; v < n && v < kFastScanBlock; v++)
        for (int j = 0; j < m; j++) {
            uint8_t c = (uint8_t)(codes[(std::size_t)v * m + j] & 15);
            block[16 * j + (v & 15)] |= v < 16 ? c : (uint8_t)(c << 4);
        }
}

void QuantizeFastScanTable(const float *table, int m, uint8_t *out, float *bias,
                           float *scale) noexcept {
    const int pm = FastScanPaddedM(m);
    std::memset(out, 0, (std::size_t)16 * pm);
    // one scale: a row spans at most 255, and the rows' maxima (rounded up
    // by at most a half each) sum below 65536
    double lo_sum = 0.0, span_sum = 0.0, span_max = 0.0;
    for (int j = 0; j < m; j++) {
        const float *row = table + 16 * j;
        float lo = *std::min_element(row, row + 16), hi = *std::max_element(row, row + 16);
        lo_sum += lo;
        span_sum += (double)hi - lo;
        span_max = std::max(span_max, (double)hi - lo);
    }
    double s = std::max(span_max / 255.0, span_sum / (65535.0 - m));
    if (!(s > 0.0) || !std::isfinite(s)) s = 1.0;  // all rows constant (or not finite)
    // rounded half up in float: this runs for every probed list (MNIST's
    // 392 rows per list), where a division and nearbyint per entry cost
    // more than the scan of the list's codes
    const float inv = (float)(1.0 / s);
    for (int j = 0; j < m; j++) {
        const float *row = table + 16 * j;
        float lo = row[0];
        for (int c = 1; c < 16; c++) lo = std::min(lo, row[c]);
        for (int c = 0; c < 16; c++) {
            float q = (row[c] - lo) * inv + 0.5f;
            out[16 * j + c] = (uint8_t)(q >= 255.0f ? 255.0f : q > 0.0f ? q : 0.0f);
        }
    }
    *bias = (float)lo_sum;
    *scale = (float)s;
}

const FastScanKernels &FastScanKernelsFor(SimdLevel level) noexcept {
#if GV_X86
    if (level >= SimdLevel::kAvx512 && __builtin_cpu_supports("avx512bw"))
        return simd::kAvx512FastScan;
    if (level >= SimdLevel::kAvx2) return simd::kAvx2FastScan;
#else
    (void)level;
#endif
    return simd::kScalarFastScan;  // (sse runs the scalar kernel)
}

const FastScanKernels &ActiveFastScanKernels() noexcept {
    return FastScanKernelsFor(ActiveKernels().level);
}

}  // namespace gigavector
