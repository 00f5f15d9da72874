// gvector operators and functions: distances (through the SIMD kernels),
// element-wise arithmetic, comparison for btree and hash operator classes,
// norms, normalisation, subvector, concatenation and the avg/sum aggregates.
//
// Distances follow pgvector's definitions so queries port unchanged:
//   <->  l2_distance       sqrt(sum (a-b)^2)
//   <#>  negative inner product   -(sum a*b)
//   <=>  cosine_distance   1 - a.b / (|a||b|)   (NaN if either norm is 0)
//   <+>  l1_distance       sum |a-b|
#include "type/gvector.h"

#include <cmath>

extern "C" {
PG_FUNCTION_INFO_V1(gvector_l2_distance);
PG_FUNCTION_INFO_V1(gvector_l2_squared_distance);
PG_FUNCTION_INFO_V1(gvector_inner_product);
PG_FUNCTION_INFO_V1(gvector_negative_inner_product);
PG_FUNCTION_INFO_V1(gvector_cosine_distance);
PG_FUNCTION_INFO_V1(gvector_l1_distance);
PG_FUNCTION_INFO_V1(gvector_dims);
PG_FUNCTION_INFO_V1(gvector_norm);
PG_FUNCTION_INFO_V1(gvector_l2_normalize);
PG_FUNCTION_INFO_V1(gvector_subvector);
PG_FUNCTION_INFO_V1(gvector_add);
PG_FUNCTION_INFO_V1(gvector_sub);
PG_FUNCTION_INFO_V1(gvector_mul);
PG_FUNCTION_INFO_V1(gvector_concat);
PG_FUNCTION_INFO_V1(gvector_lt);
PG_FUNCTION_INFO_V1(gvector_le);
PG_FUNCTION_INFO_V1(gvector_eq);
PG_FUNCTION_INFO_V1(gvector_ne);
PG_FUNCTION_INFO_V1(gvector_ge);
PG_FUNCTION_INFO_V1(gvector_gt);
PG_FUNCTION_INFO_V1(gvector_cmp);
PG_FUNCTION_INFO_V1(gvector_hash);
PG_FUNCTION_INFO_V1(gvector_accum);
PG_FUNCTION_INFO_V1(gvector_combine);
PG_FUNCTION_INFO_V1(gvector_avg);
PG_FUNCTION_INFO_V1(gvector_sum);
}

// ---- distances ----

extern "C" Datum gvector_l2_distance(PG_FUNCTION_ARGS) {
    GVector *a = PG_GETARG_GVECTOR_P(0);
    GVector *b = PG_GETARG_GVECTOR_P(1);
    gv_check_same_dims(a, b);
    PG_RETURN_FLOAT8(std::sqrt((double)gv_kernels().l2_squared(a->x, b->x, a->dim)));
}

// Squared L2: same order as L2 without the sqrt; used by index support.
extern "C" Datum gvector_l2_squared_distance(PG_FUNCTION_ARGS) {
    GVector *a = PG_GETARG_GVECTOR_P(0);
    GVector *b = PG_GETARG_GVECTOR_P(1);
    gv_check_same_dims(a, b);
    PG_RETURN_FLOAT8((double)gv_kernels().l2_squared(a->x, b->x, a->dim));
}

extern "C" Datum gvector_inner_product(PG_FUNCTION_ARGS) {
    GVector *a = PG_GETARG_GVECTOR_P(0);
    GVector *b = PG_GETARG_GVECTOR_P(1);
    gv_check_same_dims(a, b);
    PG_RETURN_FLOAT8((double)gv_kernels().inner_product(a->x, b->x, a->dim));
}

extern "C" Datum gvector_negative_inner_product(PG_FUNCTION_ARGS) {
    GVector *a = PG_GETARG_GVECTOR_P(0);
    GVector *b = PG_GETARG_GVECTOR_P(1);
    gv_check_same_dims(a, b);
    PG_RETURN_FLOAT8(-(double)gv_kernels().inner_product(a->x, b->x, a->dim));
}

extern "C" Datum gvector_cosine_distance(PG_FUNCTION_ARGS) {
    GVector *a = PG_GETARG_GVECTOR_P(0);
    GVector *b = PG_GETARG_GVECTOR_P(1);
    gv_check_same_dims(a, b);
    PG_RETURN_FLOAT8(gigavector::CosineDistance(gv_kernels(), a->x, b->x, (size_t)a->dim));
}

extern "C" Datum gvector_l1_distance(PG_FUNCTION_ARGS) {
    GVector *a = PG_GETARG_GVECTOR_P(0);
    GVector *b = PG_GETARG_GVECTOR_P(1);
    gv_check_same_dims(a, b);
    PG_RETURN_FLOAT8((double)gv_kernels().l1(a->x, b->x, a->dim));
}

// ---- simple functions ----

extern "C" Datum gvector_dims(PG_FUNCTION_ARGS) {
    GVector *a = PG_GETARG_GVECTOR_P(0);
    PG_RETURN_INT32(a->dim);
}

// Euclidean norm, accumulated in double so huge elements do not overflow.
static double NormOf(const GVector *a) {
    double sum = 0.0;
    for (int i = 0; i < a->dim; i++) sum += (double)a->x[i] * (double)a->x[i];
    return std::sqrt(sum);
}

extern "C" Datum gvector_norm(PG_FUNCTION_ARGS) {
    GVector *a = PG_GETARG_GVECTOR_P(0);
    PG_RETURN_FLOAT8(NormOf(a));
}

// Unit-length copy; the zero vector maps to itself (there is no direction).
extern "C" Datum gvector_l2_normalize(PG_FUNCTION_ARGS) {
    GVector *a = PG_GETARG_GVECTOR_P(0);
    GVector *result = gv_new_vector(a->dim);
    double norm = NormOf(a);
    if (norm > 0.0) {
        for (int i = 0; i < a->dim; i++) result->x[i] = (float)((double)a->x[i] / norm);
    }
    PG_RETURN_GVECTOR_P(result);
}

// subvector(v, start, count): elements start .. start+count-1 (1-based),
// clipped to the vector like substring(); an empty result is an error.
extern "C" Datum gvector_subvector(PG_FUNCTION_ARGS) {
    GVector *a = PG_GETARG_GVECTOR_P(0);
    int64 start = PG_GETARG_INT32(1);
    int64 count = PG_GETARG_INT32(2);
    if (count < 0)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("subvector count must not be negative, got %lld", (long long)count),
                        errhint("subvector(v, start, count) takes count >= 1 elements.")));
    int64 end = start + count;  // exclusive, may be past the vector
    int64 first = start < 1 ? 1 : start;
    int64 last = end > (int64)a->dim + 1 ? (int64)a->dim + 1 : end;
    if (last <= first)
        ereport(ERROR,
                (errcode(ERRCODE_DATA_EXCEPTION),
                 errmsg("subvector(%lld, %lld) of a %d-dimensional gvector is empty",
                        (long long)start, (long long)count, a->dim),
                 errhint("Positions are 1-based; choose start and count inside the vector.")));
    int dim = (int)(last - first);
    GVector *result = gv_new_vector(dim);
    memcpy(result->x, a->x + (first - 1), sizeof(float) * dim);
    PG_RETURN_GVECTOR_P(result);
}

// ---- arithmetic ----

static void CheckArithmeticResult(float result) {
    if (std::isnan(result)) gv_check_element(result);
    if (std::isinf(result))
        ereport(ERROR, (errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
                        errmsg("value out of range: overflow"),
                        errhint("An element of the result exceeds the float4 range.")));
}

extern "C" Datum gvector_add(PG_FUNCTION_ARGS) {
    GVector *a = PG_GETARG_GVECTOR_P(0);
    GVector *b = PG_GETARG_GVECTOR_P(1);
    gv_check_same_dims(a, b);
    GVector *r = gv_new_vector(a->dim);
    for (int i = 0; i < a->dim; i++) r->x[i] = a->x[i] + b->x[i];
    for (int i = 0; i < a->dim; i++) CheckArithmeticResult(r->x[i]);
    PG_RETURN_GVECTOR_P(r);
}

extern "C" Datum gvector_sub(PG_FUNCTION_ARGS) {
    GVector *a = PG_GETARG_GVECTOR_P(0);
    GVector *b = PG_GETARG_GVECTOR_P(1);
    gv_check_same_dims(a, b);
    GVector *r = gv_new_vector(a->dim);
    for (int i = 0; i < a->dim; i++) r->x[i] = a->x[i] - b->x[i];
    for (int i = 0; i < a->dim; i++) CheckArithmeticResult(r->x[i]);
    PG_RETURN_GVECTOR_P(r);
}

extern "C" Datum gvector_mul(PG_FUNCTION_ARGS) {
    GVector *a = PG_GETARG_GVECTOR_P(0);
    GVector *b = PG_GETARG_GVECTOR_P(1);
    gv_check_same_dims(a, b);
    GVector *r = gv_new_vector(a->dim);
    for (int i = 0; i < a->dim; i++) r->x[i] = a->x[i] * b->x[i];
    for (int i = 0; i < a->dim; i++) {
        CheckArithmeticResult(r->x[i]);
        if (r->x[i] == 0.0f && a->x[i] != 0.0f && b->x[i] != 0.0f)
            ereport(ERROR, (errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
                            errmsg("value out of range: underflow"),
                            errhint("An element of the product is below the float4 range.")));
    }
    PG_RETURN_GVECTOR_P(r);
}

extern "C" Datum gvector_concat(PG_FUNCTION_ARGS) {
    GVector *a = PG_GETARG_GVECTOR_P(0);
    GVector *b = PG_GETARG_GVECTOR_P(1);
    int dim = a->dim + b->dim;
    gv_check_dim(dim);
    GVector *r = gv_new_vector(dim);
    memcpy(r->x, a->x, sizeof(float) * a->dim);
    memcpy(r->x + a->dim, b->x, sizeof(float) * b->dim);
    PG_RETURN_GVECTOR_P(r);
}

// ---- comparison: element by element, then shorter first ----

static int Compare(const GVector *a, const GVector *b) {
    int n = a->dim < b->dim ? a->dim : b->dim;
    for (int i = 0; i < n; i++) {
        if (a->x[i] < b->x[i]) return -1;
        if (a->x[i] > b->x[i]) return 1;
    }
    return (a->dim > b->dim) - (a->dim < b->dim);
}

#define GV_COMPARISON(name, expr)             \
    extern "C" Datum name(PG_FUNCTION_ARGS) { \
        GVector *a = PG_GETARG_GVECTOR_P(0);  \
        GVector *b = PG_GETARG_GVECTOR_P(1);  \
        int c = Compare(a, b);                \
        PG_FREE_IF_COPY(a, 0);                \
        PG_FREE_IF_COPY(b, 1);                \
        PG_RETURN_BOOL(expr);                 \
    }

GV_COMPARISON(gvector_lt, c < 0)
GV_COMPARISON(gvector_le, c <= 0)
GV_COMPARISON(gvector_eq, c == 0)
GV_COMPARISON(gvector_ne, c != 0)
GV_COMPARISON(gvector_ge, c >= 0)
GV_COMPARISON(gvector_gt, c > 0)

extern "C" Datum gvector_cmp(PG_FUNCTION_ARGS) {
    GVector *a = PG_GETARG_GVECTOR_P(0);
    GVector *b = PG_GETARG_GVECTOR_P(1);
    int c = Compare(a, b);
    PG_FREE_IF_COPY(a, 0);
    PG_FREE_IF_COPY(b, 1);
    PG_RETURN_INT32(c);
}

// Hash consistent with equality: -0 and +0 are equal, so hash as +0.
extern "C" Datum gvector_hash(PG_FUNCTION_ARGS) {
    GVector *a = PG_GETARG_GVECTOR_P(0);
    uint32 h = hash_bytes_uint32((uint32)a->dim);
    for (int i = 0; i < a->dim; i++) {
        float f = a->x[i] == 0.0f ? 0.0f : a->x[i];
        uint32 bits;
        memcpy(&bits, &f, sizeof(bits));
        h = hash_combine(h, hash_bytes_uint32(bits));
    }
    PG_FREE_IF_COPY(a, 0);
    PG_RETURN_UINT32(h);
}

// ---- aggregates: state is float8[] {count, sum_1, ..., sum_dim} ----

// Returns the state array's float8 elements and its length, checking shape:
// 1-D float8 without nulls, a count that is a whole number >= 0, and, once
// the count is positive, 1..16000 sums. These functions are reachable from
// SQL with any array (EXECUTE is revoked from PUBLIC, but an owner or
// superuser can still call them), so nothing about the state is assumed.
static double *StateValues(ArrayType *state, int *length) {
    if (ARR_NDIM(state) != 1 || ARR_HASNULL(state) || ARR_ELEMTYPE(state) != FLOAT8OID ||
        ARR_DIMS(state)[0] < 1)
        ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION),
                        errmsg("gvector aggregate state must be a non-empty 1-D float8 array "
                               "without nulls"),
                        errhint("Call the gvector aggregate support functions only through "
                                "avg(gvector) or sum(gvector).")));
    *length = ARR_DIMS(state)[0];
    double *values = (double *)ARR_DATA_PTR(state);
    double count = values[0];
    if (!(count >= 0.0) || !std::isfinite(count) || count != std::floor(count) ||
        (count > 0.0 && (*length < 2 || *length > kGvectorMaxDim + 1)))
        ereport(
            ERROR,
            (errcode(ERRCODE_DATA_EXCEPTION),
             errmsg("invalid gvector aggregate state: count %g with %d sums", count, *length - 1),
             errhint("The state is {count, sum_1, ..., sum_n} with 1 <= n <= %d; call the "
                     "support functions only through avg(gvector) or sum(gvector).",
                     kGvectorMaxDim)));
    return values;
}

static ArrayType *NewState(int dim) {
    Datum *elems = (Datum *)palloc(sizeof(Datum) * (dim + 1));
    for (int i = 0; i <= dim; i++) elems[i] = Float8GetDatum(0.0);
    return construct_array(elems, dim + 1, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL,
                           TYPALIGN_DOUBLE);
}

// Transition: add one vector. In aggregate context the state is updated in
// place (it was allocated by us in the aggregate's memory context).
extern "C" Datum gvector_accum(PG_FUNCTION_ARGS) {
    ArrayType *state = PG_GETARG_ARRAYTYPE_P(0);
    GVector *v = PG_GETARG_GVECTOR_P(1);
    int length;
    double *values = StateValues(state, &length);
    MemoryContext aggcontext;
    bool in_agg = AggCheckCallContext(fcinfo, &aggcontext) != 0;

    if (values[0] == 0.0) {
        // first vector: make a state of the right size (initcond is '{0}')
        MemoryContext old = in_agg ? MemoryContextSwitchTo(aggcontext) : CurrentMemoryContext;
        state = NewState(v->dim);
        if (in_agg) MemoryContextSwitchTo(old);
        values = StateValues(state, &length);
    } else if (length != v->dim + 1) {
        ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION),
                        errmsg("different gvector dimensions %d and %d", length - 1, v->dim),
                        errhint("avg() and sum() need vectors of one dimension count.")));
    } else if (!in_agg) {
        state = (ArrayType *)PG_DETOAST_DATUM_COPY(PG_GETARG_DATUM(0));
        values = StateValues(state, &length);
    }
    values[0] += 1.0;
    for (int i = 0; i < v->dim; i++) values[i + 1] += v->x[i];
    PG_RETURN_ARRAYTYPE_P(state);
}

// Combine two partial states (parallel aggregation).
extern "C" Datum gvector_combine(PG_FUNCTION_ARGS) {
    ArrayType *s1 = PG_GETARG_ARRAYTYPE_P(0);
    ArrayType *s2 = PG_GETARG_ARRAYTYPE_P(1);
    int n1, n2;
    double *v1 = StateValues(s1, &n1);
    double *v2 = StateValues(s2, &n2);
    if (v2[0] == 0.0) PG_RETURN_ARRAYTYPE_P(s1);
    if (v1[0] == 0.0) PG_RETURN_ARRAYTYPE_P(s2);
    if (n1 != n2)
        ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION),
                        errmsg("different gvector dimensions %d and %d", n1 - 1, n2 - 1),
                        errhint("avg() and sum() need vectors of one dimension count.")));
    MemoryContext aggcontext;
    if (!AggCheckCallContext(fcinfo, &aggcontext)) {
        s1 = (ArrayType *)PG_DETOAST_DATUM_COPY(PG_GETARG_DATUM(0));
        v1 = StateValues(s1, &n1);
    }
    for (int i = 0; i < n1; i++) v1[i] += v2[i];
    PG_RETURN_ARRAYTYPE_P(s1);
}

// Final: divide the sums by the count (avg) or not (sum); NULL over no rows.
static Datum StateToVector(FunctionCallInfo fcinfo, bool average) {
    ArrayType *state = PG_GETARG_ARRAYTYPE_P(0);
    int length;
    double *values = StateValues(state, &length);
    if (values[0] == 0.0) PG_RETURN_NULL();
    int dim = length - 1;
    GVector *r = gv_new_vector(dim);
    for (int i = 0; i < dim; i++) {
        double x = average ? values[i + 1] / values[0] : values[i + 1];
        r->x[i] = (float)x;
        CheckArithmeticResult(r->x[i]);
    }
    PG_RETURN_GVECTOR_P(r);
}

extern "C" Datum gvector_avg(PG_FUNCTION_ARGS) {
    return StateToVector(fcinfo, true);
}

extern "C" Datum gvector_sum(PG_FUNCTION_ARGS) {
    return StateToVector(fcinfo, false);
}
