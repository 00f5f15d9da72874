// 8-bit scalar quantization with per-dimension ranges: training, encoding,
// decoding and prepared queries. The code kernels (scalar, AVX2, AVX-512)
// are in src/core/simd, chosen like the distance kernels.
#include "gigavector/quant/sq8.h"

#include <cmath>

namespace gigavector {

void Sq8Trainer::Add(const float *v) {
    if (count_ == 0) {
        for (std::size_t i = 0; i < dim_; i++) lo_[i] = hi_[i] = v[i];
    } else {
        for (std::size_t i = 0; i < dim_; i++) {
            if (v[i] < lo_[i]) lo_[i] = v[i];
            if (v[i] > hi_[i]) hi_[i] = v[i];
        }
    }
    count_++;
}

void Sq8Trainer::Finish(float *lo, float *step) const {
    for (std::size_t i = 0; i < dim_; i++) {
        double l = count_ ? lo_[i] : 0.0, h = count_ ? hi_[i] : 0.0;
        lo[i] = (float)l;
        // in double: h - l can exceed the float range (-3e38 .. 3e38)
        step[i] = (float)((h - l) / 255.0);
    }
}

bool Sq8Encode(const float *v, std::size_t n, const float *lo, const float *step, uint8_t *codes) {
    double clamped = 0.0, rounding = 0.0;  // squared: what clamping moved, rounding's worst
    for (std::size_t i = 0; i < n; i++) {
        double x = v[i], s = step[i];
        double c = s > 0.0 ? std::nearbyint((x - lo[i]) / s) : 0.0;
        if (!(c >= 0.0)) c = 0.0;  // also catches NaN
        if (c > 255.0) c = 255.0;
        codes[i] = (uint8_t)c;
        double top = (double)lo[i] + 255.0 * s;
        double out = std::isnan(x) ? INFINITY : x < lo[i] ? lo[i] - x : x > top ? x - top : 0.0;
        clamped += out * out;
        rounding += 0.25 * s * s;
    }
    return clamped <= rounding;
}

void Sq8Decode(const uint8_t *codes, std::size_t n, const float *lo, const float *step,
               float *out) {
    // in double: with a range as wide as the float range, step * 255 overflows
    for (std::size_t i = 0; i < n; i++)
        out[i] = (float)((double)lo[i] + (double)step[i] * codes[i]);
}

void Sq8Query::Prepare(const float *q, std::size_t dim, Metric m, const float *lo,
                       const float *steps, float *scratch) {
    metric = m;
    n = dim;
    kernels = &Sq8KernelsFor(ActiveKernels().level);
    step = steps;
    scaled = scratch;
    bool residual = m == Metric::kL2 || m == Metric::kL1;
    double b = 0.0;
    for (std::size_t i = 0; i < n; i++) {
        b += (double)q[i] * lo[i];
        scratch[i] = residual ? q[i] - lo[i] : q[i] * steps[i];
    }
    bias = b;
}

float Sq8Query::Distance(const uint8_t *codes) const {
    switch (metric) {
        case Metric::kL2:
            return kernels->l2(scaled, step, codes, n);
        case Metric::kL1:
            return kernels->l1(scaled, step, codes, n);
        case Metric::kInnerProduct:
            return (float)-(bias + (double)kernels->dot(scaled, codes, n));
        default:  // cosine
            return (float)(1.0 - (bias + (double)kernels->dot(scaled, codes, n)));
    }
}

}  // namespace gigavector
