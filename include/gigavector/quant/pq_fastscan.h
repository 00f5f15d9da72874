// Fast scan of 4-bit PQ codes (after André, Kermarrec & Le Scouarnec,
// "Cache locality is not enough: High-performance nearest neighbor search
// with product quantization fast scan", VLDB 2015, and faiss's
// IndexPQFastScan): the query's table is quantized to 8 bits, so that the 16
// entries of one subspace fit one 128-bit register, and a byte shuffle looks
// up 16 codes at once; sums are kept in 16-bit lanes.
//
// Block layout (kFastScanBlock = 32 vectors, m rounded up to a multiple of 4
// subquantizers, PaddedM): subquantizer j takes 16 bytes at 16 j; byte b
// holds vector b's code in its low nibble and vector b + 16's in its high
// nibble. A block is 16 * PaddedM(m) bytes: 4 bits per code, nothing else.
// Vectors past the block's count and subquantizers past m are code 0, and
// the quantized table's rows past m are 0, so padding adds nothing.
//
// The table (QuantizeFastScanTable): row j holds round((t_jc - min_j) /
// scale), with one scale for all rows, chosen so that a row spans at most
// 255 and the sum of the rows' maxima stays below 65536: a 16-bit sum never
// overflows. A code's distance is then bias + scale * sum, within m * scale
// / 2 of the float table's sum. Callers pick candidates on the 16-bit sums
// and re-rank them exactly.
//
// Kernels: scalar, AVX2 (two subquantizers per 256-bit shuffle) and
// AVX-512BW (four per 512-bit shuffle), chosen at run time like the
// distance kernels; all three give the same sums, bit for bit.
#pragma once

#include <cstddef>
#include <cstdint>

#include "gigavector/simd/simd_level.h"

namespace gigavector {

constexpr int kFastScanBlock = 32;

inline int FastScanPaddedM(int m) {
    return (m + 3) & ~3;
}
inline std::size_t FastScanBlockBytes(int m) {
    return (std::size_t)16 * (std::size_t)FastScanPaddedM(m);
}

// Packs the codes of n <= 32 vectors (n x m bytes, row-major, each < 16)
// into one block (FastScanBlockBytes(m) bytes).
void PackFastScanBlock(const uint8_t *codes, int n, int m, uint8_t *block) noexcept;

// Vector v's code for subquantizer j in a block.
inline uint8_t FastScanCode(const uint8_t *block, int v, int j) noexcept {
    uint8_t b = block[16 * j + (v & 15)];
    return v < 16 ? (uint8_t)(b & 15) : (uint8_t)(b >> 4);
}

// Quantizes a float table (m x 16) into out (16 * PaddedM(m) bytes, rows past
// m zero); *bias and *scale map a 16-bit sum back: bias + scale * sum.
void QuantizeFastScanTable(const float *table, int m, uint8_t *out, float *bias,
                           float *scale) noexcept;

struct FastScanKernels {
    const char *name;
    // The 16-bit sums of the 32 vectors of a block (out[v], v = 0..31).
    // padded_m is FastScanPaddedM(m): block and table have that many rows.
    void (*scan_block)(const uint8_t *block, const uint8_t *table, int padded_m, uint16_t *out);
};

// The kernels for a level: AVX-512 needs AVX-512BW too (else AVX2's).
const FastScanKernels &FastScanKernelsFor(SimdLevel level) noexcept;
// The kernels of the active level (SetActiveSimdLevel).
const FastScanKernels &ActiveFastScanKernels() noexcept;

}  // namespace gigavector
