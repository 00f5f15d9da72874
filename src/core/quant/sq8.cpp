// 8-bit scalar quantization with per-dimension ranges: training, encoding,
// decoding and prepared queries. The code kernels (scalar, AVX2, AVX-512)
// are in src/core/simd, chosen like the distance kernels.
#include "gigavector/quant/sq8.h"

#include <cmath>

namespace gigavector {

void Sq8Trainer::Add(const float *v) noexcept {
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

void Sq8Trainer::Finish(float *lo, float *step) const noexcept {
    for (std::size_t i = 0; i < dim_; i++) {
        double l = count_ ? lo_[i] : 0.0, h = count_ ? hi_[i] : 0.0;
        lo[i] = (float)l;
        // in double: h - l can exceed the float range (-3e38 .. 3e38)
        step[i] = (float)((h - l) / 255.0);
    }
}

std::size_t Sq8CodedDims(const float *step, std::size_t dim, uint32_t *dims) noexcept {
    std::size_t n = 0;
    for (std::size_t i = 0; i < dim; i++)
        if (step[i] > 0.0f) dims[n++] = (uint32_t)i;
    return n;
}

bool Sq8Encode(const float *v, const Sq8Ranges &r, uint8_t *codes) noexcept {
    double clamped = 0.0, rounding = 0.0;  // squared: what clamping moved, rounding's worst
    std::size_t next = 0;                  // index into r.dims
    for (std::size_t i = 0; i < r.dim; i++) {
        double x = v[i], s = r.step[i], lo = r.lo[i];
        bool coded = next < r.coded && r.dims[next] == i;
        if (coded) {
            double c = std::nearbyint((x - lo) / s);
            if (!(c >= 0.0)) c = 0.0;  // also catches NaN
            if (c > 255.0) c = 255.0;
            codes[next++] = (uint8_t)c;
        }
        double top = lo + 255.0 * s;
        double out = std::isnan(x) ? INFINITY : x < lo ? lo - x : x > top ? x - top : 0.0;
        clamped += out * out;
        rounding += 0.25 * s * s;
    }
    return clamped <= rounding;
}

void Sq8Decode(const uint8_t *codes, const Sq8Ranges &r, float *out) noexcept {
    // in double: with a range as wide as the float range, step * 255 overflows
    if (r.coded == r.dim) {  // every dimension coded: one pass the compiler vectorises
        for (std::size_t i = 0; i < r.dim; i++)
            out[i] = (float)((double)r.lo[i] + (double)r.step[i] * codes[i]);
        return;
    }
    for (std::size_t i = 0; i < r.dim; i++) out[i] = r.lo[i];
    for (std::size_t j = 0; j < r.coded; j++) {
        uint32_t i = r.dims[j];
        out[i] = (float)((double)r.lo[i] + (double)r.step[i] * codes[j]);
    }
}

void Sq8Query::Prepare(const float *q, Metric m, const Sq8Ranges &r, float *scratch) noexcept {
    metric = m;
    n = r.coded;
    kernels = &Sq8KernelsFor(ActiveKernels().level);
    float *s = scratch, *st = scratch + r.coded;
    scaled = s;
    step = st;
    bool residual = m == Metric::kL2 || m == Metric::kL1;
    double b = 0.0, rest = 0.0;
    std::size_t next = 0;
    for (std::size_t i = 0; i < r.dim; i++) {
        b += (double)q[i] * r.lo[i];
        if (next < r.coded && r.dims[next] == i) {
            s[next] = residual ? q[i] - r.lo[i] : q[i] * r.step[i];
            st[next++] = r.step[i];
        } else {
            double d = (double)q[i] - r.lo[i];
            rest += m == Metric::kL1 ? std::fabs(d) : d * d;
        }
    }
    bias = b;
    uncoded = residual ? (float)rest : 0.0f;
}

float Sq8Query::Distance(const uint8_t *codes) const noexcept {
    switch (metric) {
        case Metric::kL2:
            return kernels->l2(scaled, step, codes, n) + uncoded;
        case Metric::kL1:
            return kernels->l1(scaled, step, codes, n) + uncoded;
        case Metric::kInnerProduct:
            return (float)-(bias + (double)kernels->dot(scaled, codes, n));
        default:  // cosine
            return (float)(1.0 - (bias + (double)kernels->dot(scaled, codes, n)));
    }
}

}  // namespace gigavector
