// The EXPLAIN line of GigaVector's index scans (scan_explain.h).
#include "common/scan_explain.h"

#include "common/ordered_scan.h"

extern "C" {
#include "commands/explain.h"
#include "executor/instrument.h"
#include "optimizer/planner.h"
#include "tcop/tcopprot.h"
}

static ExplainOneQuery_hook_type prev_explain_one_query = NULL;

// Plans and explains a query as Postgres's ExplainOneQuery does without a
// hook, then adds the line.
static void ExplainWithScanCounts(Query *query, int cursor_options, IntoClause *into,
                                  ExplainState *es, const char *query_string, ParamListInfo params,
                                  QueryEnvironment *query_env) {
    gv_scan_totals_reset();
    if (prev_explain_one_query) {
        prev_explain_one_query(query, cursor_options, into, es, query_string, params, query_env);
    } else {
        BufferUsage bufusage_start, bufusage;
        if (es->buffers) bufusage_start = pgBufferUsage;
        instr_time planstart, planduration;
        INSTR_TIME_SET_CURRENT(planstart);
        PlannedStmt *plan = pg_plan_query(query, query_string, cursor_options, params);
        INSTR_TIME_SET_CURRENT(planduration);
        INSTR_TIME_SUBTRACT(planduration, planstart);
        if (es->buffers) {
            memset(&bufusage, 0, sizeof(BufferUsage));
            BufferUsageAccumDiff(&bufusage, &pgBufferUsage, &bufusage_start);
        }
        ExplainOnePlan(plan, into, es, query_string, params, query_env, &planduration,
                       es->buffers ? &bufusage : NULL);
    }
    const GvScanTotals &t = gv_scan_totals;
    if (!es->analyze || es->format != EXPLAIN_FORMAT_TEXT || t.scans == 0) return;
    StringInfoData line;
    initStringInfo(&line);
    appendStringInfo(&line, "%lld index scan%s, %lld rows", (long long)t.scans,
                     t.scans == 1 ? "" : "s", (long long)t.rows);
    if (t.work.nodes_visited >= 0)
        appendStringInfo(&line, ", %lld nodes visited", (long long)t.work.nodes_visited);
    if (t.work.lists_probed >= 0)
        appendStringInfo(&line, ", %lld lists probed", (long long)t.work.lists_probed);
    if (t.work.codes_scanned >= 0)
        appendStringInfo(&line, ", %lld codes scanned", (long long)t.work.codes_scanned);
    appendStringInfo(&line, ", %lld candidates re-ranked, %lld pages read", (long long)t.reranked,
                     (long long)t.pages);
    ExplainPropertyText("GigaVector", line.data, es);
}

void gv_explain_init(void) {
    prev_explain_one_query = ExplainOneQuery_hook;
    ExplainOneQuery_hook = ExplainWithScanCounts;
}
