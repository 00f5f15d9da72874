// Module entry: PG_MODULE_MAGIC, GUC definitions, SIMD reporting, and the
// registration of each access method's parts of the shared layer.
#include "type/gvector.h"
#include "common/alter_index.h"
#include "common/index_counters.h"
#include "common/ordered_scan.h"
#include "common/scan_explain.h"

void gv_embed_define_gucs(void);  // embed/embed_sql.cpp
#include "hnsw/hnsw_am.h"
#include "ivfpq/ivfpq_am.h"

extern "C" {
PG_MODULE_MAGIC;

void _PG_init(void);
PG_FUNCTION_INFO_V1(gvector_simd_info);
}

using gigavector::SimdLevel;

// gigavector.simd: which kernels the SQL functions and indexes use.
enum SimdSetting { kSimdAuto = -1 };

static const struct config_enum_entry kSimdOptions[] = {{"auto", kSimdAuto, false},
                                                        {"avx512", (int)SimdLevel::kAvx512, false},
                                                        {"avx2", (int)SimdLevel::kAvx2, false},
                                                        {"sse", (int)SimdLevel::kSse, false},
                                                        {"scalar", (int)SimdLevel::kScalar, false},
                                                        {NULL, 0, false}};

static int simd_setting = kSimdAuto;

// Refuse a level the CPU does not have, so a forced setting can never fault.
static bool CheckSimdSetting(int *newval, void **, GucSource) {
    if (*newval == kSimdAuto) return true;
    SimdLevel cpu = gigavector::DetectSimdLevel();
    if (*newval > (int)cpu) {
        GUC_check_errcode(ERRCODE_FEATURE_NOT_SUPPORTED);
        GUC_check_errmsg("this CPU does not support the \"%s\" SIMD path",
                         gigavector::SimdLevelName((SimdLevel)*newval));
        GUC_check_errhint(
            "The best path this CPU supports is \"%s\"; use it, a lower one, or auto.",
            gigavector::SimdLevelName(cpu));
        return false;
    }
    return true;
}

static void AssignSimdSetting(int newval, void *) {
    SimdLevel level = newval == kSimdAuto ? gigavector::DetectSimdLevel() : (SimdLevel)newval;
    gigavector::SetActiveSimdLevel(level);  // cannot fail: checked above
}

// Module load: define GUCs, register each access method's parts of the shared
// layer, and (when preloaded) the shared-memory counters; hook EXPLAIN.
extern "C" void _PG_init(void) {
    DefineCustomEnumVariable(
        "gigavector.simd", "SIMD path for gvector distance computations.",
        "auto picks the best the CPU supports; avx512, avx2, sse and scalar force a path "
        "(never above what the CPU has).",
        &simd_setting, kSimdAuto, kSimdOptions, PGC_USERSET, 0, CheckSimdSetting, AssignSimdSetting,
        NULL);
    gv_define_scan_gucs();
    hnsw_define_gucs();
    hnsw_define_reloptions();
    gv_register_rebuild_options_check("gv_hnsw", hnsw_check_rebuild_options);
    ivfpq_define_gucs();
    ivfpq_define_reloptions();
    gv_register_rebuild_options_check("gv_ivfpq", ivfpq_check_rebuild_options);
    hnsw_register_provider();
    ivfpq_register_provider();
    gv_counters_init();
    gv_explain_init();
    gv_embed_define_gucs();
    MarkGUCPrefixReserved("gigavector");
}

// gigavector.simd_info(): the path in use, the best the CPU has, the
// setting, and the CPU features seen.
extern "C" Datum gvector_simd_info(PG_FUNCTION_ARGS) {
    TupleDesc tupdesc;
    if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                        errmsg("simd_info must be called in a context that accepts a record"),
                        errhint("Use SELECT * FROM gigavector.simd_info().")));
    char features[256] = "";
    GV_CPP_BEGIN
    strlcpy(features, gigavector::CpuFeatureString().c_str(), sizeof(features));
    GV_CPP_END
    Datum values[4];
    bool nulls[4] = {false, false, false, false};
    values[0] = CStringGetTextDatum(gigavector::ActiveKernels().name);
    values[1] = CStringGetTextDatum(gigavector::SimdLevelName(gigavector::DetectSimdLevel()));
    values[2] = CStringGetTextDatum(GetConfigOption("gigavector.simd", false, false));
    values[3] = CStringGetTextDatum(features);
    PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
}
