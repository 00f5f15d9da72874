// The gvector type: on-disk layout and helpers shared by the SQL functions
// and the index access methods.
#pragma once

#include "common/cpp_boundary.h"

#include "gigavector/simd/distance_kernels.h"

// Up to 16000 float4 elements. pgvector stops at 16000 for the type too; our
// indexes (unlike pgvector's) do not depend on one element fitting a page.
constexpr int kGvectorMaxDim = 16000;

// Varlena layout: header, dimension count, reserved (always 0), elements.
struct GVector {
    int32 vl_len_;  // varlena header; use VARSIZE / SET_VARSIZE
    int16 dim;      // 1 .. kGvectorMaxDim
    int16 unused;   // reserved for flags; must be 0
    float x[FLEXIBLE_ARRAY_MEMBER];
};

inline size_t GvectorSize(int dim) {
    return offsetof(GVector, x) + sizeof(float) * (size_t)dim;
}

// ERRORs (XX001) for a value whose header is not a gvector of 1..16000
// dimensions filling exactly its varlena: such a value can only come from
// damage (or from a build that let one through), and the kernels would read
// past its end.
[[noreturn]] void gv_report_bad_datum(const GVector *v);

// Detoasts a gvector and checks its header, so no kernel ever runs on a
// length the value does not have. Two compares per call.
inline GVector *DatumGetGvector(Datum d) {
    GVector *v = (GVector *)PG_DETOAST_DATUM(d);
    if (unlikely(v->dim < 1 || v->dim > kGvectorMaxDim || v->unused != 0 ||
                 VARSIZE(v) != GvectorSize(v->dim)))
        gv_report_bad_datum(v);
    return v;
}

#define PG_GETARG_GVECTOR_P(n) DatumGetGvector(PG_GETARG_DATUM(n))
#define PG_RETURN_GVECTOR_P(v) PG_RETURN_POINTER(v)

// palloc'd zero-filled gvector of dim elements (dim already checked).
GVector *gv_new_vector(int dim);

// ERRORs unless 1 <= dim <= kGvectorMaxDim.
void gv_check_dim(int dim);

// ERRORs unless typmod is -1 or equals dim.
void gv_check_typmod(int dim, int32 typmod);

// ERRORs unless every element of a gvector built by a function is finite
// (its dimension count was checked when it was allocated). Every SQL
// function that returns a gvector it computed calls this before returning.
void gv_check_finite(const GVector *v);

// ERRORs if the value is NaN or infinite.
void gv_check_element(float value);

// ERRORs if a and b differ in dimension.
void gv_check_same_dims(const GVector *a, const GVector *b);

// Active SIMD kernels (set by the gigavector.simd GUC).
inline const gigavector::DistanceKernels &gv_kernels() {
    return gigavector::ActiveKernels();
}
