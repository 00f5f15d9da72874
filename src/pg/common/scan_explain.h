// EXPLAIN (ANALYZE) of a query that ran GigaVector index scans ends with a
// line of what they did: scans, rows, nodes visited (gv_hnsw) or lists
// probed and codes scanned (gv_ivfpq), candidates re-ranked with exact
// distances, and the pages the index scans read.
//
// Postgres 15 gives an index access method no way to add fields to its own
// plan node (explain_per_node_hook came in 18), so the line is added after
// the plan through ExplainOneQuery_hook, in the text format only (the JSON,
// YAML and XML documents are closed by then). It counts this backend's
// scans, not those of parallel workers.
#pragma once

void gv_explain_init(void);
