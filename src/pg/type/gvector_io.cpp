// gvector input and output: text, binary, type modifier and array casts.
//
// The text format is pgvector's: '[1,2.5,-3]', whitespace allowed around
// elements and brackets. Output uses the shortest decimal string that reads
// back as the same float4 (Ryu, as float4out does), so text round trips are
// exact, and pg_dump in any format reproduces every bit.
//
// Every malformed input is an ERROR with an SQLSTATE, a message naming the
// problem and a hint: NaN and infinities, out-of-range values, empty vectors,
// too many dimensions, syntax errors, truncated binary data.
#include "type/gvector.h"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>

extern "C" {
PG_FUNCTION_INFO_V1(gvector_in);
PG_FUNCTION_INFO_V1(gvector_out);
PG_FUNCTION_INFO_V1(gvector_typmod_in);
PG_FUNCTION_INFO_V1(gvector_typmod_out);
PG_FUNCTION_INFO_V1(gvector_recv);
PG_FUNCTION_INFO_V1(gvector_send);
PG_FUNCTION_INFO_V1(gvector_cast_typmod);
PG_FUNCTION_INFO_V1(array_to_gvector);
PG_FUNCTION_INFO_V1(gvector_to_float4_array);
PG_FUNCTION_INFO_V1(gvector_to_float8_array);
PG_FUNCTION_INFO_V1(gvector_to_int4_array);
PG_FUNCTION_INFO_V1(gvector_to_numeric_array);
}

GVector *gv_new_vector(int dim) {
    gv_check_dim(dim);  // callers check first, with their own message; this is the backstop
    size_t size = GvectorSize(dim);
    GVector *v = (GVector *)palloc0(size);
    SET_VARSIZE(v, size);
    v->dim = (int16)dim;
    return v;
}

void gv_check_dim(int dim) {
    if (dim < 1)
        ereport(ERROR,
                (errcode(ERRCODE_DATA_EXCEPTION), errmsg("gvector must have at least 1 dimension"),
                 errhint("Write at least one element, e.g. '[0]'.")));
    if (dim > kGvectorMaxDim)
        ereport(ERROR,
                (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
                 errmsg("gvector cannot have more than %d dimensions, got %d", kGvectorMaxDim, dim),
                 errhint("Reduce the embedding size, e.g. with subvector().")));
}

// The value may be headed for a column, a cast or a function argument: the
// hint names the type, not a column.
// A negative typmod means none was given.
void gv_check_typmod(int dim, int32 typmod) {
    if (typmod >= 0 && typmod != dim)
        ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION),
                        errmsg("expected %d dimensions, not %d", typmod, dim),
                        errhint("The target type is gvector(%d): give a vector of %d elements, or "
                                "shorten it with subvector().",
                                typmod, typmod)));
}

void gv_check_finite(const GVector *v) {
    for (int i = 0; i < v->dim; i++)
        if (unlikely(!std::isfinite(v->x[i]))) gv_check_element(v->x[i]);
}

void gv_report_bad_datum(const GVector *v) {
    ereport(ERROR,
            (errcode(ERRCODE_DATA_CORRUPTED),
             errmsg("gvector value is corrupted: its header says %d dimensions in %u bytes",
                    (int)v->dim, (unsigned)VARSIZE(v)),
             errhint("A gvector has 1 to %d float4 elements. Delete or overwrite the row that "
                     "holds this value.",
                     kGvectorMaxDim)));
}

void gv_check_element(float value) {
    if (std::isnan(value))
        ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION), errmsg("NaN not allowed in gvector"),
                        errhint("Replace NaN elements with finite values before storing.")));
    if (std::isinf(value))
        ereport(ERROR,
                (errcode(ERRCODE_DATA_EXCEPTION), errmsg("infinite value not allowed in gvector"),
                 errhint("Elements must be finite float4 values.")));
}

void gv_check_same_dims(const GVector *a, const GVector *b) {
    if (a->dim != b->dim)
        ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION),
                        errmsg("different gvector dimensions %d and %d", a->dim, b->dim),
                        errhint("Both operands must have the same number of dimensions.")));
}

static inline bool IsSpace(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

// Reports a syntax error in gvector text input; never returns.
[[noreturn]] static void SyntaxError(const char *input, const char *detail) {
    ereport(ERROR, (errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
                    errmsg("invalid input syntax for type gvector: \"%s\"", input),
                    errdetail("%s", detail),
                    errhint("A gvector is written as '[1,2.5,-3]': brackets around comma-separated "
                            "numbers.")));
}

// Parses one float4 at *pos (strtof syntax, ending before `end`): values
// that overflow float4 are rejected; values below its range become the
// nearest float4 (a denormal or zero), as clients computing in float64 send
// them and pgvector accepts them.
//
// std::from_chars reads the common decimal forms, correctly rounded like
// strtof and 2.3x faster (strtof was 10% of a query's backend time with a
// 784-d query vector in text). What it does not take the way strtof does
// (a '+' sign, hex floats, values out of float4's range, no number at all)
// goes to strtof, which keeps defining the syntax.
static float ParseElement(const char *input, const char **pos, const char *end) {
    const char *start = *pos;
    float value;
    std::from_chars_result fast = std::from_chars(start, end, value, std::chars_format::general);
    bool fast_ok =
        fast.ec == std::errc() &&
        !(fast.ptr < end && (std::isalnum((unsigned char)*fast.ptr) || *fast.ptr == '.'));
    if (likely(fast_ok)) {
        gv_check_element(value);
        *pos = fast.ptr;
        return value;
    }
    char *stop;
    errno = 0;
    value = strtof(start, &stop);
    if (stop == start) SyntaxError(input, "Expected a number.");
    if (errno == ERANGE && std::isinf(value)) {
        ereport(ERROR,
                (errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
                 errmsg("\"%.*s\" is out of range for type gvector", (int)(stop - start), start),
                 errhint("Elements must be finite float4 values, at most about 3.4e38 in "
                         "magnitude.")));
    }
    gv_check_element(value);
    *pos = stop;
    return value;
}

// Text input: '[x1, x2, ...]'.
extern "C" Datum gvector_in(PG_FUNCTION_ARGS) {
    const char *input = PG_GETARG_CSTRING(0);
    int32 typmod = PG_GETARG_INT32(2);
    const char *p = input;

    while (IsSpace(*p)) p++;
    if (*p != '[') SyntaxError(input, "gvector contents must start with \"[\".");
    p++;
    while (IsSpace(*p)) p++;
    if (*p == ']') gv_check_dim(0);

    // First pass counts elements so the result is allocated once.
    int capacity = 1;
    // (every element ends before `end`, the first ']' or the terminator)
    const char *end = p;
    for (; *end && *end != ']'; end++)
        if (*end == ',') capacity++;
    if (capacity > kGvectorMaxDim) gv_check_dim(capacity);

    float *values = (float *)palloc(sizeof(float) * capacity);
    int dim = 0;
    for (;;) {
        while (IsSpace(*p)) p++;
        if (*p == '\0') SyntaxError(input, "Unexpected end of input: missing \"]\".");
        if (*p == ',' || *p == ']') SyntaxError(input, "Empty element.");
        values[dim++] = ParseElement(input, &p, end);
        while (IsSpace(*p)) p++;
        if (*p == ',') {
            p++;
            continue;
        }
        if (*p == ']') {
            p++;
            break;
        }
        if (*p == '\0') SyntaxError(input, "Unexpected end of input: missing \"]\".");
        SyntaxError(input, "Expected \",\" or \"]\" after an element.");
    }
    while (IsSpace(*p)) p++;
    if (*p != '\0') SyntaxError(input, "Junk after closing \"]\".");

    gv_check_dim(dim);
    gv_check_typmod(dim, typmod);
    GVector *result = gv_new_vector(dim);
    memcpy(result->x, values, sizeof(float) * dim);
    pfree(values);
    PG_RETURN_GVECTOR_P(result);
}

// Text output with the shortest exact decimal form of each element.
extern "C" Datum gvector_out(PG_FUNCTION_ARGS) {
    GVector *v = PG_GETARG_GVECTOR_P(0);
    // Each element needs at most FLOAT_SHORTEST_DECIMAL_LEN - 1 chars plus a separator.
    char *buf = (char *)palloc((size_t)v->dim * FLOAT_SHORTEST_DECIMAL_LEN + 3);
    char *p = buf;
    *p++ = '[';
    for (int i = 0; i < v->dim; i++) {
        if (i > 0) *p++ = ',';
        p += float_to_shortest_decimal_bufn(v->x[i], p);
    }
    *p++ = ']';
    *p = '\0';
    PG_FREE_IF_COPY(v, 0);
    PG_RETURN_CSTRING(buf);
}

// gvector(n): 1 <= n <= 16000.
extern "C" Datum gvector_typmod_in(PG_FUNCTION_ARGS) {
    ArrayType *ta = PG_GETARG_ARRAYTYPE_P(0);
    int n;
    int32 *tl = ArrayGetIntegerTypmods(ta, &n);
    if (n != 1)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("invalid type modifier for gvector"),
                        errhint("Write gvector(n) with a single dimension count.")));
    if (*tl < 1 || *tl > kGvectorMaxDim)
        ereport(ERROR,
                (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                 errmsg("gvector dimensions must be between 1 and %d, got %d", kGvectorMaxDim, *tl),
                 errhint("Declare the column as gvector(n) with 1 <= n <= %d.", kGvectorMaxDim)));
    PG_RETURN_INT32(*tl);
}

extern "C" Datum gvector_typmod_out(PG_FUNCTION_ARGS) {
    int32 typmod = PG_GETARG_INT32(0);
    if (typmod < 0) PG_RETURN_CSTRING(pstrdup(""));
    PG_RETURN_CSTRING(psprintf("(%d)", typmod));
}

// Binary input: int16 dim, int16 reserved (0), dim float4 values.
extern "C" Datum gvector_recv(PG_FUNCTION_ARGS) {
    StringInfo buf = (StringInfo)PG_GETARG_POINTER(0);
    int32 typmod = PG_GETARG_INT32(2);
    if (buf->len - buf->cursor < 4)
        ereport(ERROR, (errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
                        errmsg("invalid binary gvector: header is truncated"),
                        errhint("The binary form is int16 dimensions, int16 zero, then float4 "
                                "elements.")));
    int dim = pq_getmsgint(buf, 2);
    int reserved = pq_getmsgint(buf, 2);
    if (reserved != 0)
        ereport(ERROR,
                (errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
                 errmsg("invalid binary gvector: reserved field is %d, expected 0", reserved),
                 errhint("The data was not written by gvector_send.")));
    dim = (int16)dim;  // the field is a signed int16
    gv_check_dim(dim);
    gv_check_typmod(dim, typmod);
    if ((size_t)(buf->len - buf->cursor) != sizeof(float) * dim)
        ereport(ERROR,
                (errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
                 errmsg("invalid binary gvector: %d dimensions need %zu bytes of data, got %d", dim,
                        sizeof(float) * dim, buf->len - buf->cursor),
                 errhint("The data is truncated or not a gvector.")));
    GVector *result = gv_new_vector(dim);
    for (int i = 0; i < dim; i++) {
        result->x[i] = pq_getmsgfloat4(buf);
        gv_check_element(result->x[i]);
    }
    PG_RETURN_GVECTOR_P(result);
}

extern "C" Datum gvector_send(PG_FUNCTION_ARGS) {
    GVector *v = PG_GETARG_GVECTOR_P(0);
    StringInfoData buf;
    pq_begintypsend(&buf);
    pq_sendint16(&buf, v->dim);
    pq_sendint16(&buf, v->unused);
    for (int i = 0; i < v->dim; i++) pq_sendfloat4(&buf, v->x[i]);
    PG_FREE_IF_COPY(v, 0);
    PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

// Cast gvector to gvector(n): checks the dimension count.
extern "C" Datum gvector_cast_typmod(PG_FUNCTION_ARGS) {
    GVector *v = PG_GETARG_GVECTOR_P(0);
    gv_check_typmod(v->dim, PG_GETARG_INT32(1));
    PG_RETURN_GVECTOR_P(v);
}

// Converts one array element to float4 according to the element type,
// checking range and finiteness.
static float ArrayElementToFloat(Datum d, Oid elemtype) {
    double value;
    switch (elemtype) {
        case FLOAT4OID:
            value = DatumGetFloat4(d);
            break;
        case FLOAT8OID:
            value = DatumGetFloat8(d);
            break;
        case INT4OID:
            value = DatumGetInt32(d);
            break;
        case NUMERICOID: {
            // the decimal string rounded straight to float4 by strtof (no
            // double rounding through float8); numeric_float4 would refuse
            // values below the float4 range instead of rounding them
            char *text = DatumGetCString(DirectFunctionCall1(numeric_out, d));
            errno = 0;
            float f = strtof(text, NULL);
            if (std::isnan(f)) gv_check_element(f);
            if (std::isinf(f))
                ereport(ERROR, (errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
                                errmsg("value %s is out of range for type gvector", text),
                                errhint("Elements must be finite float4 values, at most about "
                                        "3.4e38 in magnitude.")));
            pfree(text);
            return f;
        }
        default:
            ereport(ERROR,
                    (errcode(ERRCODE_DATATYPE_MISMATCH),
                     errmsg("cannot cast an array of %s to gvector", format_type_be(elemtype)),
                     errhint("Cast from real[], double precision[], integer[] or numeric[].")));
    }
    if (std::isnan(value) || std::isinf(value)) gv_check_element((float)value);
    // below the float4 range: the nearest float4 (denormal or zero)
    float f = (float)value;
    if (std::isinf(f))
        ereport(ERROR, (errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
                        errmsg("value %g is out of range for type gvector", value),
                        errhint("Elements must be finite float4 values, at most about 3.4e38 in "
                                "magnitude.")));
    return f;
}

// Cast real[], double precision[], integer[] or numeric[] to gvector.
extern "C" Datum array_to_gvector(PG_FUNCTION_ARGS) {
    ArrayType *array = PG_GETARG_ARRAYTYPE_P(0);
    int32 typmod = PG_GETARG_INT32(1);
    if (ARR_NDIM(array) > 1)
        ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION),
                        errmsg("array must be 1-dimensional to cast to gvector"),
                        errhint("Flatten the array first.")));
    if (array_contains_nulls(array))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                        errmsg("array must not contain nulls to cast to gvector"),
                        errhint("Replace NULL elements with numbers.")));
    Oid elemtype = ARR_ELEMTYPE(array);
    int16 typlen;
    bool typbyval;
    char typalign;
    get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
    Datum *elems;
    int count;
    deconstruct_array(array, elemtype, typlen, typbyval, typalign, &elems, NULL, &count);
    gv_check_dim(count);
    gv_check_typmod(count, typmod);
    GVector *result = gv_new_vector(count);
    for (int i = 0; i < count; i++) result->x[i] = ArrayElementToFloat(elems[i], elemtype);
    pfree(elems);
    PG_RETURN_GVECTOR_P(result);
}

// Builds a 1-D array of the gvector's elements converted by convert().
template <typename Convert>
static ArrayType *GvectorToArray(const GVector *v, Oid elemtype, Convert convert) {
    int16 typlen;
    bool typbyval;
    char typalign;
    get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
    Datum *elems = (Datum *)palloc(sizeof(Datum) * v->dim);
    for (int i = 0; i < v->dim; i++) elems[i] = convert(v->x[i]);
    return construct_array(elems, v->dim, elemtype, typlen, typbyval, typalign);
}

extern "C" Datum gvector_to_float4_array(PG_FUNCTION_ARGS) {
    GVector *v = PG_GETARG_GVECTOR_P(0);
    PG_RETURN_ARRAYTYPE_P(GvectorToArray(v, FLOAT4OID, [](float f) { return Float4GetDatum(f); }));
}

extern "C" Datum gvector_to_float8_array(PG_FUNCTION_ARGS) {
    GVector *v = PG_GETARG_GVECTOR_P(0);
    PG_RETURN_ARRAYTYPE_P(GvectorToArray(v, FLOAT8OID, [](float f) { return Float8GetDatum(f); }));
}

// Rounds to nearest, as the float4 -> integer cast does; ERRORs beyond int4.
static Datum FloatToInt4Datum(float f) {
    float r = rintf(f);
    if (!FLOAT4_FITS_IN_INT32(r))
        ereport(ERROR, (errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
                        errmsg("gvector element %g is out of range for type integer", (double)f),
                        errhint("Cast to real[] or numeric[] instead.")));
    return Int32GetDatum((int32)r);
}

extern "C" Datum gvector_to_int4_array(PG_FUNCTION_ARGS) {
    GVector *v = PG_GETARG_GVECTOR_P(0);
    PG_RETURN_ARRAYTYPE_P(GvectorToArray(v, INT4OID, FloatToInt4Datum));
}

// Exact: the numeric gets the shortest decimal that reads back as the same
// float4 (float4_numeric keeps only FLT_DIG = 6 digits).
static Datum FloatToNumericDatum(float f) {
    char buf[FLOAT_SHORTEST_DECIMAL_LEN];
    float_to_shortest_decimal_buf(f, buf);
    return DirectFunctionCall3(numeric_in, CStringGetDatum(buf), ObjectIdGetDatum(InvalidOid),
                               Int32GetDatum(-1));
}

extern "C" Datum gvector_to_numeric_array(PG_FUNCTION_ARGS) {
    GVector *v = PG_GETARG_GVECTOR_P(0);
    PG_RETURN_ARRAYTYPE_P(GvectorToArray(v, NUMERICOID, FloatToNumericDatum));
}
