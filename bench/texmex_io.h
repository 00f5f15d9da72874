// Readers of TEXMEX files (*.fvecs, *.ivecs: per vector an int32 count,
// then that many float32 or int32), for the in-process benchmark drivers.
// Exits with status 2 when a file cannot be opened.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace bench_io {

// Up to `limit` rows of 4-byte elements (float for .fvecs, int for
// .ivecs), concatenated; *dim is the row length.
template <class T>
std::vector<T> ReadVecs(const std::string &path, int *dim, std::size_t limit) {
    static_assert(sizeof(T) == 4, "TEXMEX elements are 4 bytes");
    std::vector<T> out;
    FILE *f = std::fopen(path.c_str(), "rb");
    if (!f) {
        std::perror(path.c_str());
        std::exit(2);
    }
    int d;
    std::size_t n = 0;
    while (n < limit && std::fread(&d, 4, 1, f) == 1) {
        std::size_t at = out.size();
        out.resize(at + d);
        if (std::fread(&out[at], 4, d, f) != (std::size_t)d) break;
        *dim = d;
        n++;
    }
    std::fclose(f);
    return out;
}

inline std::vector<float> ReadFvecs(const std::string &path, int *dim, std::size_t limit) {
    return ReadVecs<float>(path, dim, limit);
}

// Every row; *k is the row length.
inline std::vector<int> ReadIvecs(const std::string &path, int *k) {
    return ReadVecs<int>(path, k, (std::size_t)-1);
}

}  // namespace bench_io
