// Operator classes, dimensions and vector preparation shared by the access
// methods (index_opclass.h), and the metric support functions.
#include "common/index_opclass.h"

#include "type/gvector.h"

extern "C" {
#include "commands/defrem.h"
#include "utils/lsyscache.h"

PG_FUNCTION_INFO_V1(gvector_metric_l2);
PG_FUNCTION_INFO_V1(gvector_metric_ip);
PG_FUNCTION_INFO_V1(gvector_metric_cosine);
PG_FUNCTION_INFO_V1(gvector_metric_l1);
}

// Operator class support function 2: which metric the opclass orders by.
extern "C" Datum gvector_metric_l2(PG_FUNCTION_ARGS) {
    (void)fcinfo;
    PG_RETURN_INT32((int)gigavector::Metric::kL2);
}
extern "C" Datum gvector_metric_ip(PG_FUNCTION_ARGS) {
    (void)fcinfo;
    PG_RETURN_INT32((int)gigavector::Metric::kInnerProduct);
}
extern "C" Datum gvector_metric_cosine(PG_FUNCTION_ARGS) {
    (void)fcinfo;
    PG_RETURN_INT32((int)gigavector::Metric::kCosine);
}
extern "C" Datum gvector_metric_l1(PG_FUNCTION_ARGS) {
    (void)fcinfo;
    PG_RETURN_INT32((int)gigavector::Metric::kL1);
}

static const char *AmName(Relation index) {
    const char *am = get_am_name(index->rd_rel->relam);
    return am != NULL ? am : "the index";
}

gigavector::Metric gv_index_metric(Relation index) {
    RegProcedure proc = index_getprocid(index, 1, kGvMetricProc);
    int metric = DatumGetInt32(OidFunctionCall0Coll(proc, InvalidOid));
    if (metric < 0 || metric > (int)gigavector::Metric::kL1)
        ereport(ERROR,
                (errcode(ERRCODE_INTERNAL_ERROR),
                 errmsg("%s operator class reports unknown metric %d", AmName(index), metric),
                 errhint("Use one of the gvector_*_ops operator classes.")));
    return (gigavector::Metric)metric;
}

int gv_indexed_dimensions(Relation index) {
    int32 dim = TupleDescAttr(index->rd_att, 0)->atttypmod;
    if (dim < 1) {
        if (index->rd_index->indkey.values[0] == 0)  // an expression
            ereport(ERROR, (errcode(ERRCODE_INVALID_COLUMN_DEFINITION),
                            errmsg("indexed expression does not have dimensions"),
                            errhint("Cast the expression to gvector(n), e.g. USING %s "
                                    "((l2_normalize(v)::gvector(768)) gvector_l2_ops).",
                                    AmName(index))));
        ereport(ERROR, (errcode(ERRCODE_INVALID_COLUMN_DEFINITION),
                        errmsg("column does not have dimensions"),
                        errhint("Declare the column as gvector(n) to index it with %s, e.g. "
                                "ALTER TABLE ... ALTER COLUMN ... TYPE gvector(768).",
                                AmName(index))));
    }
    return dim;
}

bool gv_prepare_vector(Relation index, Datum value, int dim, gigavector::Metric metric,
                       float *out) {
    GVector *v = DatumGetGvector(value);
    if (v->dim != dim)
        ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION),
                        errmsg("expected %d dimensions, not %d", dim, v->dim),
                        errhint("A %s index holds vectors of one dimension count (%d); index "
                                "a gvector(%d) column, or cast an indexed expression to "
                                "gvector(%d).",
                                AmName(index), dim, dim, dim)));
    // a non-finite element would poison every distance it takes part in
    // (NaN compares false both ways and breaks the searches' heaps)
    gv_check_finite(v);
    memcpy(out, v->x, sizeof(float) * dim);
    if ((Pointer)v != DatumGetPointer(value)) pfree(v);
    return gigavector::PrepareForMetric(metric, out, (size_t)dim);
}
