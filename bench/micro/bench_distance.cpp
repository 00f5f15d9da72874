// Microbenchmarks of the distance kernels: each metric at each SIMD level the
// CPU has, for 100, 768 and 1536 dimensions. Names are BM_<metric>/<level>/<dim>
// (e.g. BM_l2/avx2/768); items/s counts distance computations.
//
// The working set (a few vector pairs, at most 32 KiB) stays in L1/L2, so
// this measures the arithmetic, not memory bandwidth.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "gigavector/simd/distance_kernels.h"

namespace gv = gigavector;

namespace {

struct PairSet {
    std::size_t dim;
    std::size_t pairs;
    std::vector<float> a, b;  // pairs * dim each
};

PairSet MakePairs(std::size_t dim) {
    PairSet s;
    s.dim = dim;
    s.pairs = std::max<std::size_t>(1, 4096 / dim);  // 2 * pairs * dim floats <= 32 KiB
    std::mt19937 rng(42 + (unsigned)dim);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    s.a.resize(s.pairs * dim);
    s.b.resize(s.pairs * dim);
    for (float &x : s.a) x = dist(rng);
    for (float &x : s.b) x = dist(rng);
    return s;
}

enum class Metric { kL2, kInnerProduct, kCosine, kL1 };

template <Metric M>
void BM_Distance(benchmark::State &state, gv::SimdLevel level, std::size_t dim) {
    const gv::DistanceKernels &k = gv::KernelsFor(level);
    PairSet s = MakePairs(dim);
    for (auto _ : state) {
        for (std::size_t p = 0; p < s.pairs; p++) {
            const float *a = s.a.data() + p * dim;
            const float *b = s.b.data() + p * dim;
            if constexpr (M == Metric::kL2) {
                benchmark::DoNotOptimize(k.l2_squared(a, b, dim));
            } else if constexpr (M == Metric::kInnerProduct) {
                benchmark::DoNotOptimize(k.inner_product(a, b, dim));
            } else if constexpr (M == Metric::kCosine) {
                float dot, na, nb;
                k.dot_and_norms(a, b, dim, &dot, &na, &nb);
                benchmark::DoNotOptimize(gv::CosineDistanceFromParts(dot, na, nb));
            } else {
                benchmark::DoNotOptimize(k.l1(a, b, dim));
            }
        }
    }
    state.SetItemsProcessed((int64_t)state.iterations() * (int64_t)s.pairs);
    state.SetBytesProcessed((int64_t)state.iterations() *
                            (int64_t)(s.pairs * dim * 2 * sizeof(float)));
}

template <Metric M>
void RegisterMetric(const char *metric_name) {
    const gv::SimdLevel levels[] = {gv::SimdLevel::kScalar, gv::SimdLevel::kSse,
                                    gv::SimdLevel::kAvx2, gv::SimdLevel::kAvx512};
    for (gv::SimdLevel level : levels) {
        if ((int)level > (int)gv::DetectSimdLevel()) continue;
        for (std::size_t dim : {100, 768, 1536}) {
            std::string name = std::string("BM_") + metric_name + "/" + gv::KernelsFor(level).name +
                               "/" + std::to_string(dim);
            benchmark::RegisterBenchmark(name.c_str(), BM_Distance<M>, level, dim);
        }
    }
}

}  // namespace

int main(int argc, char **argv) {
    RegisterMetric<Metric::kL2>("l2");
    RegisterMetric<Metric::kInnerProduct>("inner_product");
    RegisterMetric<Metric::kCosine>("cosine");
    RegisterMetric<Metric::kL1>("l1");
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::AddCustomContext("gigavector.cpu_features", gv::CpuFeatureString());
    benchmark::AddCustomContext("gigavector.detected_level",
                                gv::SimdLevelName(gv::DetectSimdLevel()));
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
