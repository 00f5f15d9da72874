-- GigaVector 0.1.0
-- The gvector type, operators and operator classes go in the schema the
-- extension is created in; management functions and views go in the schema
-- "gigavector". Later versions ship upgrade scripts gigavector--A--B.sql.

\echo Use "CREATE EXTENSION gigavector" to load this file. \quit

CREATE SCHEMA gigavector;
-- every role may call the management functions and read the views; each
-- checks the caller's rights on the table an index belongs to
GRANT USAGE ON SCHEMA gigavector TO PUBLIC;

-- ---------------------------------------------------------------------------
-- the type
-- ---------------------------------------------------------------------------

CREATE TYPE gvector;

CREATE FUNCTION gvector_in(cstring, oid, integer) RETURNS gvector
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION gvector_out(gvector) RETURNS cstring
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION gvector_typmod_in(cstring[]) RETURNS integer
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION gvector_typmod_out(integer) RETURNS cstring
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION gvector_recv(internal, oid, integer) RETURNS gvector
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION gvector_send(gvector) RETURNS bytea
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- STORAGE external: float data does not compress; large vectors are moved
-- out of line without a wasted compression attempt.
CREATE TYPE gvector (
    INPUT = gvector_in,
    OUTPUT = gvector_out,
    TYPMOD_IN = gvector_typmod_in,
    TYPMOD_OUT = gvector_typmod_out,
    RECEIVE = gvector_recv,
    SEND = gvector_send,
    INTERNALLENGTH = VARIABLE,
    ALIGNMENT = int4,
    STORAGE = external
);

COMMENT ON TYPE gvector IS 'vector of float4 values, 1 to 16000 dimensions';

-- ---------------------------------------------------------------------------
-- casts
-- ---------------------------------------------------------------------------

CREATE FUNCTION gvector(gvector, integer, boolean) RETURNS gvector
    AS 'MODULE_PATHNAME', 'gvector_cast_typmod' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION array_to_gvector(real[], integer, boolean) RETURNS gvector
    AS 'MODULE_PATHNAME', 'array_to_gvector' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION array_to_gvector(double precision[], integer, boolean) RETURNS gvector
    AS 'MODULE_PATHNAME', 'array_to_gvector' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION array_to_gvector(integer[], integer, boolean) RETURNS gvector
    AS 'MODULE_PATHNAME', 'array_to_gvector' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION array_to_gvector(numeric[], integer, boolean) RETURNS gvector
    AS 'MODULE_PATHNAME', 'array_to_gvector' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION gvector_to_float4(gvector, integer, boolean) RETURNS real[]
    AS 'MODULE_PATHNAME', 'gvector_to_float4_array' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION gvector_to_float8(gvector, integer, boolean) RETURNS double precision[]
    AS 'MODULE_PATHNAME', 'gvector_to_float8_array' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION gvector_to_int4(gvector, integer, boolean) RETURNS integer[]
    AS 'MODULE_PATHNAME', 'gvector_to_int4_array' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION gvector_to_numeric(gvector, integer, boolean) RETURNS numeric[]
    AS 'MODULE_PATHNAME', 'gvector_to_numeric_array' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE CAST (gvector AS gvector) WITH FUNCTION gvector(gvector, integer, boolean) AS IMPLICIT;
CREATE CAST (real[] AS gvector) WITH FUNCTION array_to_gvector(real[], integer, boolean) AS ASSIGNMENT;
CREATE CAST (double precision[] AS gvector)
    WITH FUNCTION array_to_gvector(double precision[], integer, boolean) AS ASSIGNMENT;
CREATE CAST (integer[] AS gvector) WITH FUNCTION array_to_gvector(integer[], integer, boolean) AS ASSIGNMENT;
CREATE CAST (numeric[] AS gvector) WITH FUNCTION array_to_gvector(numeric[], integer, boolean) AS ASSIGNMENT;
CREATE CAST (gvector AS real[]) WITH FUNCTION gvector_to_float4(gvector, integer, boolean) AS IMPLICIT;
CREATE CAST (gvector AS double precision[]) WITH FUNCTION gvector_to_float8(gvector, integer, boolean);
CREATE CAST (gvector AS integer[]) WITH FUNCTION gvector_to_int4(gvector, integer, boolean);
CREATE CAST (gvector AS numeric[]) WITH FUNCTION gvector_to_numeric(gvector, integer, boolean);

-- ---------------------------------------------------------------------------
-- functions
-- ---------------------------------------------------------------------------

CREATE FUNCTION l2_distance(gvector, gvector) RETURNS double precision
    AS 'MODULE_PATHNAME', 'gvector_l2_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION inner_product(gvector, gvector) RETURNS double precision
    AS 'MODULE_PATHNAME', 'gvector_inner_product' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION cosine_distance(gvector, gvector) RETURNS double precision
    AS 'MODULE_PATHNAME', 'gvector_cosine_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION l1_distance(gvector, gvector) RETURNS double precision
    AS 'MODULE_PATHNAME', 'gvector_l1_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION gvector_negative_inner_product(gvector, gvector) RETURNS double precision
    AS 'MODULE_PATHNAME', 'gvector_negative_inner_product' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION gvector_l2_squared_distance(gvector, gvector) RETURNS double precision
    AS 'MODULE_PATHNAME', 'gvector_l2_squared_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION vector_dims(gvector) RETURNS integer
    AS 'MODULE_PATHNAME', 'gvector_dims' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vector_norm(gvector) RETURNS double precision
    AS 'MODULE_PATHNAME', 'gvector_norm' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION l2_normalize(gvector) RETURNS gvector
    AS 'MODULE_PATHNAME', 'gvector_l2_normalize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION subvector(gvector, integer, integer) RETURNS gvector
    AS 'MODULE_PATHNAME', 'gvector_subvector' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION gvector_add(gvector, gvector) RETURNS gvector
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION gvector_sub(gvector, gvector) RETURNS gvector
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION gvector_mul(gvector, gvector) RETURNS gvector
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION gvector_concat(gvector, gvector) RETURNS gvector
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION gvector_lt(gvector, gvector) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION gvector_le(gvector, gvector) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION gvector_eq(gvector, gvector) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION gvector_ne(gvector, gvector) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION gvector_ge(gvector, gvector) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION gvector_gt(gvector, gvector) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION gvector_cmp(gvector, gvector) RETURNS integer
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION gvector_hash(gvector) RETURNS integer
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- ---------------------------------------------------------------------------
-- operators
-- ---------------------------------------------------------------------------

CREATE OPERATOR <-> (LEFTARG = gvector, RIGHTARG = gvector, PROCEDURE = l2_distance, COMMUTATOR = '<->');
CREATE OPERATOR <#> (LEFTARG = gvector, RIGHTARG = gvector,
                     PROCEDURE = gvector_negative_inner_product, COMMUTATOR = '<#>');
CREATE OPERATOR <=> (LEFTARG = gvector, RIGHTARG = gvector, PROCEDURE = cosine_distance, COMMUTATOR = '<=>');
CREATE OPERATOR <+> (LEFTARG = gvector, RIGHTARG = gvector, PROCEDURE = l1_distance, COMMUTATOR = '<+>');

CREATE OPERATOR + (LEFTARG = gvector, RIGHTARG = gvector, PROCEDURE = gvector_add, COMMUTATOR = +);
CREATE OPERATOR - (LEFTARG = gvector, RIGHTARG = gvector, PROCEDURE = gvector_sub);
CREATE OPERATOR * (LEFTARG = gvector, RIGHTARG = gvector, PROCEDURE = gvector_mul, COMMUTATOR = *);
CREATE OPERATOR || (LEFTARG = gvector, RIGHTARG = gvector, PROCEDURE = gvector_concat);

CREATE OPERATOR < (LEFTARG = gvector, RIGHTARG = gvector, PROCEDURE = gvector_lt,
    COMMUTATOR = >, NEGATOR = >=, RESTRICT = scalarltsel, JOIN = scalarltjoinsel);
CREATE OPERATOR <= (LEFTARG = gvector, RIGHTARG = gvector, PROCEDURE = gvector_le,
    COMMUTATOR = >=, NEGATOR = >, RESTRICT = scalarlesel, JOIN = scalarlejoinsel);
CREATE OPERATOR = (LEFTARG = gvector, RIGHTARG = gvector, PROCEDURE = gvector_eq,
    COMMUTATOR = =, NEGATOR = <>, RESTRICT = eqsel, JOIN = eqjoinsel, HASHES, MERGES);
CREATE OPERATOR <> (LEFTARG = gvector, RIGHTARG = gvector, PROCEDURE = gvector_ne,
    COMMUTATOR = <>, NEGATOR = =, RESTRICT = neqsel, JOIN = neqjoinsel);
CREATE OPERATOR >= (LEFTARG = gvector, RIGHTARG = gvector, PROCEDURE = gvector_ge,
    COMMUTATOR = <=, NEGATOR = <, RESTRICT = scalargesel, JOIN = scalargejoinsel);
CREATE OPERATOR > (LEFTARG = gvector, RIGHTARG = gvector, PROCEDURE = gvector_gt,
    COMMUTATOR = <, NEGATOR = <=, RESTRICT = scalargtsel, JOIN = scalargtjoinsel);

CREATE OPERATOR CLASS gvector_ops DEFAULT FOR TYPE gvector USING btree AS
    OPERATOR 1 <, OPERATOR 2 <=, OPERATOR 3 =, OPERATOR 4 >=, OPERATOR 5 >,
    FUNCTION 1 gvector_cmp(gvector, gvector);

CREATE OPERATOR CLASS gvector_ops DEFAULT FOR TYPE gvector USING hash AS
    OPERATOR 1 =,
    FUNCTION 1 gvector_hash(gvector);

-- ---------------------------------------------------------------------------
-- aggregates: state float8[] = {count, sum_1, ..., sum_n}
-- ---------------------------------------------------------------------------

CREATE FUNCTION gvector_accum(double precision[], gvector) RETURNS double precision[]
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION gvector_combine(double precision[], double precision[]) RETURNS double precision[]
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION gvector_avg(double precision[]) RETURNS gvector
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION gvector_sum(double precision[]) RETURNS gvector
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE AGGREGATE avg(gvector) (
    SFUNC = gvector_accum, STYPE = double precision[], FINALFUNC = gvector_avg,
    COMBINEFUNC = gvector_combine, INITCOND = '{0}', PARALLEL = SAFE
);
CREATE AGGREGATE sum(gvector) (
    SFUNC = gvector_accum, STYPE = double precision[], FINALFUNC = gvector_sum,
    COMBINEFUNC = gvector_combine, INITCOND = '{0}', PARALLEL = SAFE
);

-- The support functions take any float8[] when called directly; they check
-- what they are given, and nobody but the aggregates needs them. Aggregates
-- call them with their owner's rights, so avg() and sum() stay usable by all.
REVOKE EXECUTE ON FUNCTION gvector_accum(double precision[], gvector),
    gvector_combine(double precision[], double precision[]),
    gvector_avg(double precision[]), gvector_sum(double precision[]) FROM PUBLIC;

-- ---------------------------------------------------------------------------
-- management
-- ---------------------------------------------------------------------------

CREATE FUNCTION gigavector.simd_info(
    OUT active_path text, OUT cpu_best_path text, OUT setting text, OUT cpu_features text)
    AS 'MODULE_PATHNAME', 'gvector_simd_info' LANGUAGE C VOLATILE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION gigavector.simd_info() IS
    'SIMD path in use for gvector distances, the best the CPU supports, the gigavector.simd setting and the CPU features';

-- ---------------------------------------------------------------------------
-- gv_hnsw: HNSW index access method
-- ---------------------------------------------------------------------------

CREATE FUNCTION gv_hnsw_handler(internal) RETURNS index_am_handler
    AS 'MODULE_PATHNAME' LANGUAGE C;
CREATE ACCESS METHOD gv_hnsw TYPE INDEX HANDLER gv_hnsw_handler;
COMMENT ON ACCESS METHOD gv_hnsw IS 'HNSW graph index for gvector nearest-neighbour search';

-- support function 2 tells the index which metric the operator class orders by
CREATE FUNCTION gvector_metric_l2() RETURNS integer
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION gvector_metric_ip() RETURNS integer
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION gvector_metric_cosine() RETURNS integer
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION gvector_metric_l1() RETURNS integer
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE OPERATOR CLASS gvector_l2_ops FOR TYPE gvector USING gv_hnsw AS
    OPERATOR 1 <-> (gvector, gvector) FOR ORDER BY float_ops,
    FUNCTION 1 gvector_l2_squared_distance(gvector, gvector),
    FUNCTION 2 (gvector, gvector) gvector_metric_l2();
CREATE OPERATOR CLASS gvector_ip_ops FOR TYPE gvector USING gv_hnsw AS
    OPERATOR 1 <#> (gvector, gvector) FOR ORDER BY float_ops,
    FUNCTION 1 gvector_negative_inner_product(gvector, gvector),
    FUNCTION 2 (gvector, gvector) gvector_metric_ip();
CREATE OPERATOR CLASS gvector_cosine_ops FOR TYPE gvector USING gv_hnsw AS
    OPERATOR 1 <=> (gvector, gvector) FOR ORDER BY float_ops,
    FUNCTION 1 cosine_distance(gvector, gvector),
    FUNCTION 2 (gvector, gvector) gvector_metric_cosine();
CREATE OPERATOR CLASS gvector_l1_ops FOR TYPE gvector USING gv_hnsw AS
    OPERATOR 1 <+> (gvector, gvector) FOR ORDER BY float_ops,
    FUNCTION 1 l1_distance(gvector, gvector),
    FUNCTION 2 (gvector, gvector) gvector_metric_l1();

-- ALTER INDEX ... SET (m | ef_construction | storage = ...) would be accepted
-- and change nothing (the pages were built with the old values): refuse it.
CREATE FUNCTION gigavector.alter_index_trigger() RETURNS event_trigger
    AS 'MODULE_PATHNAME', 'gv_alter_index_trigger' LANGUAGE C;
CREATE EVENT TRIGGER gigavector_alter_index ON ddl_command_end WHEN TAG IN ('ALTER INDEX')
    EXECUTE FUNCTION gigavector.alter_index_trigger();

CREATE FUNCTION gigavector.hnsw_check(index regclass) RETURNS SETOF text
    AS 'MODULE_PATHNAME', 'gv_hnsw_check' LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION gigavector.hnsw_check(regclass) IS
    'structural check of a gv_hnsw index: one row per problem, none when sound';

CREATE FUNCTION gigavector.hnsw_stats(index regclass,
    OUT dimensions int, OUT storage text, OUT m int, OUT ef_construction int,
    OUT nodes bigint, OUT free_slots bigint, OUT zero_vectors bigint, OUT entry_level int,
    OUT inserted bigint, OUT deleted bigint, OUT reused bigint, OUT repaired bigint,
    OUT pages bigint, OUT trained_rows bigint, OUT coded_from bigint, OUT uncoded_nodes bigint,
    OUT calibrated_ef_search int, OUT calibration_recall float8, OUT coded_dimensions int)
    AS 'MODULE_PATHNAME', 'gv_hnsw_stats' LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION gigavector.hnsw_stats(regclass) IS
    'gv_hnsw index counters from its meta page: node slots, free slots, zero vectors, '
    'inserts, deletes, reused slots, lists repaired by VACUUM, pages, and the rows the sq8 '
    'ranges were trained on with the first node id that has codes (NULL: untrained) and the '
    'nodes since whose vectors the ranges miss (traversed exact; REINDEX retrains), and the '
    'default ef_search CREATE INDEX measured with its recall@10 on a sample of the rows, '
    'and the dimensions the sq8 codes hold (those not constant over the training sample)';

-- ---------------------------------------------------------------------------
-- gv_ivfpq: IVF + product quantization index access method
-- ---------------------------------------------------------------------------

CREATE FUNCTION gv_ivfpq_handler(internal) RETURNS index_am_handler
    AS 'MODULE_PATHNAME' LANGUAGE C;
CREATE ACCESS METHOD gv_ivfpq TYPE INDEX HANDLER gv_ivfpq_handler;
COMMENT ON ACCESS METHOD gv_ivfpq IS
    'IVF index of product-quantized codes (4-bit fast scan or 8-bit) with exact re-ranking';

CREATE OPERATOR CLASS gvector_l2_ops FOR TYPE gvector USING gv_ivfpq AS
    OPERATOR 1 <-> (gvector, gvector) FOR ORDER BY float_ops,
    FUNCTION 1 gvector_l2_squared_distance(gvector, gvector),
    FUNCTION 2 (gvector, gvector) gvector_metric_l2();
CREATE OPERATOR CLASS gvector_ip_ops FOR TYPE gvector USING gv_ivfpq AS
    OPERATOR 1 <#> (gvector, gvector) FOR ORDER BY float_ops,
    FUNCTION 1 gvector_negative_inner_product(gvector, gvector),
    FUNCTION 2 (gvector, gvector) gvector_metric_ip();
CREATE OPERATOR CLASS gvector_cosine_ops FOR TYPE gvector USING gv_ivfpq AS
    OPERATOR 1 <=> (gvector, gvector) FOR ORDER BY float_ops,
    FUNCTION 1 cosine_distance(gvector, gvector),
    FUNCTION 2 (gvector, gvector) gvector_metric_cosine();
CREATE OPERATOR CLASS gvector_l1_ops FOR TYPE gvector USING gv_ivfpq AS
    OPERATOR 1 <+> (gvector, gvector) FOR ORDER BY float_ops,
    FUNCTION 1 l1_distance(gvector, gvector),
    FUNCTION 2 (gvector, gvector) gvector_metric_l1();

CREATE FUNCTION gigavector.ivfpq_stats(index regclass,
    OUT dimensions int, OUT lists int, OUT subvectors int, OUT bits int, OUT rerank text,
    OUT probes int, OUT rerank_candidates int, OUT derived text, OUT exact_scans boolean,
    OUT built_rows float8, OUT trained_rows float8, OUT calibration_recall float8,
    OUT live_entries bigint, OUT dead_entries bigint, OUT packed_entries bigint,
    OUT tail_entries bigint, OUT zero_vectors bigint, OUT min_list float8, OUT max_list float8,
    OUT imbalance float8, OUT residual_growth float8, OUT pages bigint)
    AS 'MODULE_PATHNAME', 'gv_ivfpq_stats' LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION gigavector.ivfpq_stats(regclass) IS
    'gv_ivfpq index: the options in effect (derived: those CREATE INDEX chose; probes and '
    'rerank_candidates as a scan now uses them), the sample recall@10 at the defaults, entries '
    '(live, dead, in fast-scan blocks, in unpacked tails, zero vectors), list sizes and their '
    'imbalance (stddev / mean), and residual_growth: the mean squared residual of entries added '
    'since the build over that of the built ones (REINDEX pays when it grows well above 1)';

CREATE FUNCTION gigavector.ivfpq_check(index regclass) RETURNS SETOF text
    AS 'MODULE_PATHNAME', 'gv_ivfpq_check' LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION gigavector.ivfpq_check(regclass) IS
    'structural check of a gv_ivfpq index: one row per problem, none when sound';

-- ---------------------------------------------------------------------------
-- Operating indexes from psql: facts, counters, recall, tuning, advice,
-- health and the integrity check, the same for every access method (each
-- access method's provider answers for its indexes; see
-- src/pg/common/index_provider.h).
-- ---------------------------------------------------------------------------

CREATE FUNCTION gigavector.index_facts(index regclass,
    OUT access_method text, OUT dimensions int, OUT live_entries bigint,
    OUT dead_entries bigint, OUT options text,
    OUT am_status text, OUT am_reason text, OUT am_action text)
    AS 'MODULE_PATHNAME', 'gv_index_facts' LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION gigavector.index_facts(regclass) IS
    'what an index itself tells the views: dimensions, live and dead entries, the options in '
    'effect (derived ones marked), and its access method''s own health finding';

CREATE FUNCTION gigavector.index_info(index regclass)
    RETURNS TABLE(property text, value text)
    AS 'MODULE_PATHNAME', 'gv_index_info' LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION gigavector.index_info(regclass) IS
    'structural facts of a gv_hnsw (levels, entry point, degrees, unreachable nodes) or '
    'gv_ivfpq index (lists, list sizes, tail share, codebook), in the spirit of pgstatindex';

CREATE FUNCTION gigavector.index_search(index regclass, query @extschema@.gvector, k int DEFAULT 10)
    RETURNS TABLE(tid tid, distance float8)
    AS 'MODULE_PATHNAME', 'gv_index_search_sql' LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION gigavector.index_search(regclass, @extschema@.gvector, int) IS
    'the first k rows an ordered scan of this index returns for query, with the current search '
    'settings and the distance its operator gives, whatever plan the planner would pick '
    '(measure_recall and tune time it)';

CREATE FUNCTION gigavector.tune_candidates(index regclass, k int DEFAULT 10)
    RETURNS TABLE(series int, gucs text, reloptions text)
    AS 'MODULE_PATHNAME', 'gv_tune_candidates' LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION gigavector.tune_candidates(regclass, int) IS
    'the search settings tune tries for an index, in series of rising cost';

CREATE FUNCTION gigavector.index_counters(
    OUT indexrelid oid, OUT scans bigint, OUT tuples_returned bigint, OUT inserts bigint,
    OUT mean_ms float8, OUT p50_ms float8, OUT p95_ms float8, OUT p99_ms float8,
    OUT recent_qps float8, OUT stats_since timestamptz, OUT counts_lost bigint)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'gv_index_counters' LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION gigavector.index_counters() IS
    'run-time counters from shared memory (shared_preload_libraries = ''gigavector''), one row '
    'per index of this database whose table you may SELECT; none without preloading';

CREATE FUNCTION gigavector.stats_reset(index regclass DEFAULT NULL) RETURNS timestamptz
    AS 'MODULE_PATHNAME', 'gv_counters_reset' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION gigavector.stats_reset(regclass) IS
    'forgets the run-time counters of an index (its table''s owner), or of every index whose '
    'table you own (NULL; a superuser: all); returns the time';

CREATE FUNCTION gigavector.take_query_samples(
    OUT indexrelid oid, OUT sampled_at timestamptz, OUT query @extschema@.gvector)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'gv_take_query_samples' LANGUAGE C STRICT VOLATILE;
REVOKE EXECUTE ON FUNCTION gigavector.take_query_samples() FROM PUBLIC;

-- May the current user see what an index tells about its table's contents?
CREATE FUNCTION gigavector.can_read_index(index oid) RETURNS boolean
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$ SELECT coalesce((SELECT has_table_privilege(i.indrelid, 'SELECT')
                           FROM pg_index i WHERE i.indexrelid = $1), false) $$;
-- Does the current user own (or act as the owner of) an index's table?
CREATE FUNCTION gigavector.owns_index_table(index oid) RETURNS boolean
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$ SELECT coalesce((SELECT pg_has_role(t.relowner, 'USAGE')
                           FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid
                           WHERE i.indexrelid = $1), false) $$;

-- Durable facts: what measure_recall, tune and index_check found. Keyed by
-- the index's OID and relfilenode (a REINDEX starts a new index: older rows
-- no longer describe it). Row security shows each role the rows of the
-- indexes on tables it may SELECT.
CREATE TABLE gigavector.recall_history (
    indexrelid oid NOT NULL,
    relfilenode oid NOT NULL,
    measured_at timestamptz NOT NULL DEFAULT now(),
    recall float8 NOT NULL,
    k int NOT NULL,
    queries int NOT NULL,
    source text NOT NULL,
    settings text NOT NULL,
    mean_ms float8,
    p50_ms float8,
    p99_ms float8,
    measured_by name NOT NULL DEFAULT current_user);
CREATE INDEX ON gigavector.recall_history (indexrelid, measured_at);

CREATE TABLE gigavector.index_tuning (
    indexrelid oid PRIMARY KEY,
    relfilenode oid NOT NULL,
    target_recall float8 NOT NULL,
    k int NOT NULL,
    reloptions text NOT NULL,
    recall float8 NOT NULL,
    mean_ms float8 NOT NULL,
    tuned_at timestamptz NOT NULL DEFAULT now());

CREATE TABLE gigavector.check_history (
    indexrelid oid NOT NULL,
    relfilenode oid NOT NULL,
    checked_at timestamptz NOT NULL DEFAULT now(),
    heapallindexed boolean NOT NULL,
    problems int NOT NULL,
    first_problem text);
CREATE INDEX ON gigavector.check_history (indexrelid, checked_at);

-- Query vectors scans sampled (gigavector.query_sampling_rate): only the
-- table's owner (and superusers) may read them.
CREATE TABLE gigavector.query_samples (
    indexrelid oid NOT NULL,
    sampled_at timestamptz NOT NULL,
    query @extschema@.gvector NOT NULL);
CREATE INDEX ON gigavector.query_samples (indexrelid, sampled_at);

ALTER TABLE gigavector.recall_history ENABLE ROW LEVEL SECURITY;
ALTER TABLE gigavector.index_tuning ENABLE ROW LEVEL SECURITY;
ALTER TABLE gigavector.check_history ENABLE ROW LEVEL SECURITY;
ALTER TABLE gigavector.query_samples ENABLE ROW LEVEL SECURITY;
CREATE POLICY readers ON gigavector.recall_history
    USING (gigavector.can_read_index(indexrelid)) WITH CHECK (gigavector.can_read_index(indexrelid));
CREATE POLICY owners ON gigavector.index_tuning
    USING (gigavector.can_read_index(indexrelid)) WITH CHECK (gigavector.owns_index_table(indexrelid));
CREATE POLICY readers ON gigavector.check_history
    USING (gigavector.can_read_index(indexrelid)) WITH CHECK (gigavector.can_read_index(indexrelid));
CREATE POLICY owners ON gigavector.query_samples
    USING (gigavector.owns_index_table(indexrelid));
GRANT SELECT, INSERT, DELETE ON gigavector.recall_history TO PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON gigavector.index_tuning TO PUBLIC;
GRANT SELECT, INSERT, DELETE ON gigavector.check_history TO PUBLIC;
GRANT SELECT, DELETE ON gigavector.query_samples TO PUBLIC;

-- Whether this transaction can write the tables above (not on a standby,
-- not in a read-only transaction).
CREATE FUNCTION gigavector.can_record() RETURNS boolean
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$ SELECT NOT pg_is_in_recovery() AND current_setting('transaction_read_only') = 'off' $$;

-- Moves the sampled queries from shared memory to gigavector.query_samples,
-- keeping the newest gigavector.query_sample_limit (default 1000) per index.
CREATE FUNCTION gigavector.save_query_samples() RETURNS bigint
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    n bigint;
    lim int := coalesce(nullif(current_setting('gigavector.query_sample_limit', true), '')::int, 1000);
BEGIN
    IF NOT gigavector.can_record() THEN
        RETURN 0;
    END IF;
    INSERT INTO gigavector.query_samples SELECT * FROM gigavector.take_query_samples();
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n > 0 THEN
        DELETE FROM gigavector.query_samples q
        USING (SELECT ctid, row_number() OVER (PARTITION BY indexrelid ORDER BY sampled_at DESC) AS r
               FROM gigavector.query_samples) old
        WHERE q.ctid = old.ctid AND old.r > lim;
    END IF;
    RETURN n;
END $$;
COMMENT ON FUNCTION gigavector.save_query_samples() IS
    'moves the query vectors scans sampled (gigavector.query_sampling_rate) from shared memory '
    'into gigavector.query_samples, keeping the newest gigavector.query_sample_limit per index; '
    'returns how many it moved';

-- What measure_recall and tune search: the index's table, column and
-- distance operator.
CREATE FUNCTION gigavector.index_target(index regclass,
    OUT table_name regclass, OUT column_name name, OUT operator text, OUT relfilenode oid)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    SELECT i.indrelid::regclass, a.attname,
           format('OPERATOR(%I.%s)', opn.nspname, op.oprname), c.relfilenode
      INTO table_name, column_name, operator, relfilenode
      FROM pg_index i
      JOIN pg_class c ON c.oid = i.indexrelid
      JOIN pg_am am ON am.oid = c.relam AND am.amname IN ('gv_hnsw', 'gv_ivfpq')
      JOIN pg_opclass opc ON opc.oid = i.indclass[0]
      JOIN pg_amop ao ON ao.amopfamily = opc.opcfamily AND ao.amopstrategy = 1
                      AND ao.amoppurpose = 'o'
      JOIN pg_operator op ON op.oid = ao.amopopr
      JOIN pg_namespace opn ON opn.oid = op.oprnamespace
      LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
     WHERE i.indexrelid = index;
    IF NOT FOUND THEN
        RAISE EXCEPTION '"%" is not a gv_hnsw or gv_ivfpq index', index
            USING ERRCODE = 'wrong_object_type',
                  HINT = 'Pass a GigaVector index; gigavector.index_stats lists them.';
    END IF;
    IF NOT has_table_privilege(table_name, 'SELECT') THEN
        RAISE EXCEPTION 'permission denied for table %', table_name
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Measuring an index reads its table: it needs SELECT on it.';
    END IF;
    IF column_name IS NULL THEN
        RAISE EXCEPTION 'index "%" is on an expression', index
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'measure_recall and tune need an index on a plain gvector column.';
    END IF;
END $$;

-- Exact and index answers for a set of query vectors, with the index's
-- latency per query: the work of measure_recall and of each step of tune.
-- exact: the true k nearest distances (exact_distances). The index's answer
-- (index_search, with the operator's distances) counts a hit for each row
-- it returns whose distance is within the k-th true distance (so ties count
-- as hits).
CREATE FUNCTION gigavector.recall_against(index regclass, queries @extschema@.gvector[],
    exact float8[][], k int, skip_self boolean, OUT recall float8, OUT mean_ms float8,
    OUT p50_ms float8, OUT p99_ms float8)
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    q @extschema@.gvector;
    i int;
    hits bigint := 0;
    wanted bigint := 0;
    t0 timestamptz;
    ms float8[] := '{}';
    got float8[];
    kth float8;
BEGIN
    PERFORM gigavector.index_target(index);  -- the checks: a plain column, rights
    FOR i IN 1 .. coalesce(array_length(queries, 1), 0) LOOP
        q := queries[i];
        t0 := clock_timestamp();
        SELECT array_agg(s.distance ORDER BY s.distance) INTO got
          FROM gigavector.index_search(index, q, k + skip_self::int) s;
        ms := ms || (extract(epoch FROM clock_timestamp() - t0) * 1000)::float8;
        IF skip_self AND got[1] = 0 THEN
            got := got[2:];  -- the query's own row (exact_distances left it out too)
        END IF;
        kth := (SELECT max(e) FROM unnest(exact[i:i][1:k]) e);
        wanted := wanted + (SELECT count(*) FROM unnest(exact[i:i][1:k]) e WHERE e IS NOT NULL);
        hits := hits + least(k, (SELECT count(*) FROM unnest(got) g
                                 WHERE g <= kth + 1e-6 * abs(kth) + 1e-9));
    END LOOP;
    recall := CASE WHEN wanted > 0 THEN hits::float8 / wanted END;
    SELECT avg(x), percentile_cont(0.5) WITHIN GROUP (ORDER BY x),
           percentile_cont(0.99) WITHIN GROUP (ORDER BY x)
      INTO mean_ms, p50_ms, p99_ms FROM unnest(ms) x;
END $$;

-- The true k nearest distances of each query (a row per query, NULL-padded
-- to k), from one sequential pass over the table with the index's own
-- distance operator; skip_self leaves out one row at distance 0 per query
-- (a query drawn from the table is its own nearest row).
CREATE FUNCTION gigavector.exact_distances(index regclass, queries @extschema@.gvector[], k int,
    skip_self boolean DEFAULT false) RETURNS float8[]
    AS 'MODULE_PATHNAME', 'gv_exact_distances' LANGUAGE C STRICT VOLATILE;

-- Query vectors for a measurement: drawn from the table, or the sampled ones.
CREATE FUNCTION gigavector.measurement_queries(index regclass, queries int, source text)
    RETURNS @extschema@.gvector[]
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    t record;
    result @extschema@.gvector[];
BEGIN
    IF queries < 1 THEN
        RAISE EXCEPTION 'queries must be at least 1, not %', queries
            USING ERRCODE = 'invalid_parameter_value', HINT = 'The default, 100, suits most tables.';
    END IF;
    SELECT * INTO t FROM gigavector.index_target(index);
    IF source = 'table' THEN
        EXECUTE format('SELECT array_agg(v) FROM (SELECT %I AS v FROM %s WHERE %I IS NOT NULL '
                       'ORDER BY random() LIMIT $1) s', t.column_name, t.table_name, t.column_name)
            INTO result USING queries;
    ELSIF source = 'sampled' THEN
        PERFORM gigavector.save_query_samples();
        SELECT array_agg(query) INTO result
          FROM (SELECT query FROM gigavector.query_samples WHERE indexrelid = index
                ORDER BY sampled_at DESC LIMIT queries) s;
        IF result IS NULL THEN
            RAISE EXCEPTION 'no sampled queries for index "%"', index
                USING ERRCODE = 'no_data_found',
                      HINT = 'Sampling needs shared_preload_libraries = ''gigavector'' and '
                             'gigavector.query_sampling_rate above 0 (a superuser sets it), and '
                             'only the table''s owner reads the samples.';
        END IF;
    ELSE
        RAISE EXCEPTION 'unknown source "%"', source
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use source => ''table'' (rows of the table) or ''sampled'' (queries '
                         'scans recorded), or pass an array of query vectors.';
    END IF;
    IF result IS NULL THEN
        RAISE EXCEPTION 'table % has no rows to draw queries from', t.table_name
            USING ERRCODE = 'no_data_found', HINT = 'Load rows first, or pass query vectors.';
    END IF;
    RETURN result;
END $$;

-- measure_recall with explicit query vectors.
CREATE FUNCTION gigavector.measure_recall(index regclass, query_vectors @extschema@.gvector[],
    OUT recall float8, OUT queries int, INOUT k int DEFAULT 10, INOUT source text DEFAULT 'given',
    OUT settings text, OUT mean_ms float8, OUT p50_ms float8, OUT p99_ms float8,
    OUT measured_at timestamptz)
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    t record;
    r record;
    kk int := k;
BEGIN
    IF kk < 1 OR kk > 1000 THEN
        RAISE EXCEPTION 'k must be between 1 and 1000, not %', kk
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Recall@10 is the usual measure.';
    END IF;
    IF coalesce(array_length(query_vectors, 1), 0) = 0 THEN
        RAISE EXCEPTION 'no query vectors' USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Pass at least one vector, or use source => ''table''.';
    END IF;
    SELECT * INTO t FROM gigavector.index_target(index);
    SELECT * INTO r FROM gigavector.recall_against(index, query_vectors,
        gigavector.exact_distances(index, query_vectors, kk, source = 'table'), kk,
        source = 'table');
    recall := r.recall;
    queries := array_length(query_vectors, 1);
    settings := (SELECT f.options FROM gigavector.index_facts(index) f);
    mean_ms := r.mean_ms;
    p50_ms := r.p50_ms;
    p99_ms := r.p99_ms;
    measured_at := now();
    IF gigavector.can_record() THEN
        INSERT INTO gigavector.recall_history (indexrelid, relfilenode, measured_at, recall, k,
            queries, source, settings, mean_ms, p50_ms, p99_ms)
        VALUES (index, t.relfilenode, measured_at, recall, kk, queries, source,
                settings, mean_ms, p50_ms, p99_ms);
    END IF;
END $$;

CREATE FUNCTION gigavector.measure_recall(index regclass, OUT recall float8,
    INOUT queries int DEFAULT 100, INOUT k int DEFAULT 10, INOUT source text DEFAULT 'table',
    OUT settings text, OUT mean_ms float8, OUT p50_ms float8, OUT p99_ms float8,
    OUT measured_at timestamptz)
    LANGUAGE sql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $$ SELECT m.recall, m.queries, m.k, m.source, m.settings, m.mean_ms, m.p50_ms, m.p99_ms,
                 m.measured_at
            FROM gigavector.measure_recall($1, gigavector.measurement_queries($1, $2, $4), $3, $4) m $$;
COMMENT ON FUNCTION gigavector.measure_recall(regclass, int, int, text) IS
    'recall@k of an index with the current search settings: exact k-NN by sequential scan '
    'against the index''s answer, for query vectors drawn from the table (source => ''table'') '
    'or recorded by scans (''sampled''); stored for gigavector.index_stats';
COMMENT ON FUNCTION gigavector.measure_recall(regclass, @extschema@.gvector[], int, text) IS
    'recall@k of an index for the given query vectors (see the other form)';

-- The margin a recall measured on `queries` queries of k rows needs above
-- (tune) or below (health) a target before it is trusted: 1.5 standard
-- errors of a proportion, counting a query's k rows as k/2 independent
-- ones (the rows of one query hit or miss together). For 0.95 it is 0.015
-- on 100 queries, 0.010 on 200: a setting tune keeps then rarely measures
-- below the target on another sample, and health does not flap.
CREATE FUNCTION gigavector.recall_margin(target float8, queries int, k int) RETURNS float8
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT 1.5 * sqrt(greatest($1 * (1 - $1), 0) / greatest($2 * $3 / 2.0, 1)) $$;

-- tune: the cheapest search settings that reach the target on a sample,
-- kept as the index's defaults (ALTER INDEX ... SET, so pg_dump and
-- replicas keep them too).
CREATE FUNCTION gigavector.tune(index regclass, target_recall float8 DEFAULT 0.95,
    k int DEFAULT 10, queries int DEFAULT 100, source text DEFAULT 'table',
    query_vectors @extschema@.gvector[] DEFAULT NULL)
    RETURNS TABLE(setting text, recall float8, mean_ms float8, p99_ms float8, chosen boolean)
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    t record;
    c record;
    r record;
    qs @extschema@.gvector[];
    exact float8[][];
    skip_self boolean;
    aim float8;
    reached int := -1;
    beyond int := 0;
    best record;
    kk int := tune.k;
    kv text;
BEGIN
    IF target_recall <= 0 OR target_recall > 1 THEN
        RAISE EXCEPTION 'target_recall must be in (0, 1], not %', target_recall
            USING ERRCODE = 'invalid_parameter_value', HINT = 'For example 0.95.';
    END IF;
    IF kk < 1 OR kk > 1000 THEN
        RAISE EXCEPTION 'k must be between 1 and 1000, not %', kk
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Recall@10 is the usual measure.';
    END IF;
    SELECT * INTO t FROM gigavector.index_target(index);
    IF NOT gigavector.owns_index_table(index) THEN
        RAISE EXCEPTION 'must be owner of table % to tune its index', t.table_name
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'tune stores settings with ALTER INDEX; measure_recall only measures.';
    END IF;
    IF query_vectors IS NOT NULL THEN
        qs := query_vectors;
        source := 'given';
    ELSE
        qs := gigavector.measurement_queries(index, queries, source);
    END IF;
    IF coalesce(array_length(qs, 1), 0) = 0 THEN
        RAISE EXCEPTION 'no query vectors' USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Pass at least one vector, or use source => ''table''.';
    END IF;
    skip_self := source = 'table';
    exact := gigavector.exact_distances(index, qs, kk, skip_self);
    aim := least(1, target_recall + gigavector.recall_margin(target_recall, array_length(qs, 1), kk));
    CREATE TEMP TABLE IF NOT EXISTS gigavector_tune_curve (
        ord int, series int, gucs text, reloptions text, recall float8, mean_ms float8,
        p99_ms float8) ON COMMIT DROP;
    TRUNCATE gigavector_tune_curve;
    -- warm the index's pages once, so the first setting is not timed cold
    PERFORM gigavector.recall_against(index, qs[1:least(20, array_length(qs, 1))],
                                      exact[1:least(20, array_length(qs, 1))][1:kk], kk, skip_self);
    FOR c IN SELECT row_number() OVER () AS ord, * FROM gigavector.tune_candidates(index, kk) LOOP
        -- a series stops two settings after its first hit (they only cost
        -- more; the two show the curve's shape past the target)
        IF c.series <> reached THEN
            beyond := 0;
        END IF;
        CONTINUE WHEN c.series = reached AND beyond >= 2;
        IF c.series = reached THEN
            beyond := beyond + 1;
        END IF;
        FOREACH kv IN ARRAY string_to_array(c.gucs, ',') LOOP
            PERFORM set_config(split_part(kv, '=', 1), split_part(kv, '=', 2), true);
        END LOOP;
        SELECT * INTO r FROM gigavector.recall_against(index, qs, exact, kk, skip_self);
        INSERT INTO gigavector_tune_curve
            VALUES (c.ord, c.series, c.gucs, c.reloptions, r.recall, r.mean_ms, r.p99_ms);
        IF r.recall >= aim THEN
            reached := c.series;
        END IF;
    END LOOP;
    -- the fastest setting that reaches the aim; timings within 10% of it
    -- are noise, and among those the earliest (cheapest) setting wins
    SELECT * INTO best FROM gigavector_tune_curve cv
     WHERE cv.recall >= aim
       AND cv.mean_ms <= 1.1 * (SELECT min(x.mean_ms) FROM gigavector_tune_curve x WHERE x.recall >= aim)
     ORDER BY cv.ord LIMIT 1;
    IF best IS NULL THEN
        SELECT * INTO best FROM gigavector_tune_curve cv
         ORDER BY cv.recall DESC, cv.mean_ms LIMIT 1;
        RAISE NOTICE 'no setting reached recall % (% with the sampling margin; the best: % at %); keeping it',
            target_recall, round(aim::numeric, 3), round(best.recall::numeric, 3), best.reloptions
            USING HINT = format('Rebuild with the options gigavector.index_suggest(%s, %s, '
                                'target_recall => %s) gives.',
                                (SELECT f.dimensions FROM gigavector.index_facts(index) f),
                                (SELECT reltuples::bigint FROM pg_class WHERE oid = t.table_name),
                                target_recall);
    END IF;
    EXECUTE format('ALTER INDEX %s SET (%s)', index, best.reloptions);
    IF gigavector.can_record() THEN
        INSERT INTO gigavector.index_tuning AS it VALUES (index, t.relfilenode, target_recall, kk,
            best.reloptions, best.recall, best.mean_ms, now())
        ON CONFLICT (indexrelid) DO UPDATE SET relfilenode = EXCLUDED.relfilenode,
            target_recall = EXCLUDED.target_recall, k = EXCLUDED.k,
            reloptions = EXCLUDED.reloptions, recall = EXCLUDED.recall,
            mean_ms = EXCLUDED.mean_ms, tuned_at = EXCLUDED.tuned_at;
        INSERT INTO gigavector.recall_history (indexrelid, relfilenode, recall, k, queries,
            source, settings, mean_ms, p99_ms)
        VALUES (index, t.relfilenode, best.recall, kk, array_length(qs, 1), 'tune',
                best.reloptions, best.mean_ms, best.p99_ms);
    END IF;
    RETURN QUERY SELECT cv.reloptions, cv.recall, cv.mean_ms, cv.p99_ms, cv.ord = best.ord
                   FROM gigavector_tune_curve cv ORDER BY cv.ord;
END $$;
COMMENT ON FUNCTION gigavector.tune(regclass, float8, int, int, text, @extschema@.gvector[]) IS
    'measures recall@k and latency over the search settings of an index on query vectors from '
    'the table (source => ''table'', each query''s own row left out), the sampled queries '
    '(''sampled'') or query_vectors, keeps the fastest that reaches target_recall plus the '
    'sampling margin (recall_margin) as the index''s defaults (ALTER INDEX SET) and returns the '
    'curve with the chosen row marked';

-- Measured trade-offs behind index_suggest: bench/ivfpq_bench.sh and
-- bench/hnsw_bench.sh on 2 cores (AVX-512), 2026-12-04, as in README.md.
CREATE TABLE gigavector.measured_tradeoffs (
    access_method text NOT NULL,
    dataset text NOT NULL,
    dimensions int NOT NULL,
    rows bigint NOT NULL,
    options text NOT NULL,
    recall float8 NOT NULL,
    qps float8 NOT NULL,
    build_seconds float8 NOT NULL,
    index_bytes bigint NOT NULL);
INSERT INTO gigavector.measured_tradeoffs VALUES
    ('gv_hnsw', 'glove-100', 100, 100000, 'm = 16, ef_construction = 64', 0.962, 769, 6.1, 67213312),
    ('gv_hnsw', 'mnist-784', 784, 60000, 'm = 16, ef_construction = 64', 0.980, 2159, 7.6, 250504806),
    ('gv_ivfpq', 'glove-100', 100, 100000, 'derived', 0.975, 1336, 1.42, 5600000),
    ('gv_ivfpq', 'mnist-784', 784, 60000, 'derived', 0.973, 866, 5.66, 17100000),
    ('gv_ivfpq', 'glove-331k', 100, 331479, 'derived', 0.981, 916, 5.36, 15500000);
GRANT SELECT ON gigavector.measured_tradeoffs TO PUBLIC;

CREATE FUNCTION gigavector.index_suggest(dimensions int, expected_rows bigint,
    memory_budget_bytes bigint DEFAULT NULL, target_recall float8 DEFAULT 0.95)
    RETURNS TABLE(recommended boolean, access_method text, options text, create_index text,
                  estimated_size_bytes bigint, estimated_build_seconds float8, reason text)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    hnsw_bytes float8;
    ivf_bytes float8;
    hnsw_s float8;
    ivf_s float8;
    m int := CASE WHEN target_recall >= 0.99 THEN 32 WHEN target_recall >= 0.97 THEN 24 ELSE 16 END;
    efc int := CASE WHEN target_recall >= 0.99 THEN 200 WHEN target_recall >= 0.97 THEN 128 ELSE 64 END;
    pick text;
    why text;
BEGIN
    IF dimensions < 1 OR dimensions > 16000 THEN
        RAISE EXCEPTION 'dimensions must be between 1 and 16000, not %', dimensions
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Pass the width of your vectors.';
    END IF;
    IF expected_rows < 1 THEN
        RAISE EXCEPTION 'expected_rows must be positive, not %', expected_rows
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Pass the rows you expect to index.';
    END IF;
    IF target_recall <= 0 OR target_recall > 1 THEN
        RAISE EXCEPTION 'target_recall must be in (0, 1], not %', target_recall
            USING ERRCODE = 'invalid_parameter_value', HINT = 'For example 0.95.';
    END IF;
    -- sizes: a linear fit in the dimensions of the measured bytes per row
    -- (gv_hnsw keeps the vectors and an sq8 copy, and its lists grow with
    -- m; gv_ivfpq keeps 4-bit codes of dims/2 subvectors and a heap TID),
    -- scaled to the rows
    SELECT (regr_intercept(t.index_bytes::float8 / t.rows, t.dimensions)
            + regr_slope(t.index_bytes::float8 / t.rows, t.dimensions) * index_suggest.dimensions)
           * (m / 16.0 * 0.25 + 0.75)
      INTO hnsw_bytes FROM gigavector.measured_tradeoffs t WHERE t.access_method = 'gv_hnsw';
    SELECT (regr_intercept(t.index_bytes::float8 / t.rows, t.dimensions)
            + regr_slope(t.index_bytes::float8 / t.rows, t.dimensions) * index_suggest.dimensions)
      INTO ivf_bytes FROM gigavector.measured_tradeoffs t
     WHERE t.access_method = 'gv_ivfpq' AND t.dataset <> 'glove-331k';
    hnsw_bytes := greatest(hnsw_bytes, index_suggest.dimensions + 64) * expected_rows;
    ivf_bytes := greatest(ivf_bytes, index_suggest.dimensions / 4.0 + 8) * expected_rows;
    -- build time: per row and dimension, times log(rows) for the graph
    SELECT avg(t.build_seconds / (t.rows * t.dimensions * ln(t.rows))) * expected_rows
           * index_suggest.dimensions * ln(greatest(expected_rows, 2)) * efc / 64.0
      INTO hnsw_s FROM gigavector.measured_tradeoffs t WHERE t.access_method = 'gv_hnsw';
    SELECT avg(t.build_seconds / (t.rows * t.dimensions)) * expected_rows * index_suggest.dimensions
      INTO ivf_s FROM gigavector.measured_tradeoffs t WHERE t.access_method = 'gv_ivfpq';
    IF memory_budget_bytes IS NOT NULL AND hnsw_bytes > memory_budget_bytes THEN
        pick := 'gv_ivfpq';
        why := format('a gv_hnsw index (about %s) would not fit the memory budget of %s; '
                      'gv_ivfpq (about %s) does', pg_size_pretty(hnsw_bytes::bigint),
                      pg_size_pretty(memory_budget_bytes), pg_size_pretty(ivf_bytes::bigint));
    ELSIF target_recall > 0.985 THEN
        pick := 'gv_hnsw';
        why := 'recall above 0.985 is cheaper from a graph than from more probes';
    ELSIF expected_rows >= 5000000 THEN
        pick := 'gv_ivfpq';
        why := 'at this many rows gv_ivfpq builds many times faster and is a tenth of the size';
    ELSE
        pick := 'gv_hnsw';
        why := 'the lowest latency at this size; gv_ivfpq is the choice when memory or build '
               'time matter more';
    END IF;
    IF memory_budget_bytes IS NOT NULL AND ivf_bytes > memory_budget_bytes THEN
        why := why || format('; even gv_ivfpq (about %s) exceeds the budget: partition the table',
                             pg_size_pretty(ivf_bytes::bigint));
    END IF;
    RETURN QUERY VALUES
        (pick = 'gv_hnsw', 'gv_hnsw', format('m = %s, ef_construction = %s', m, efc),
         format('CREATE INDEX ON items USING gv_hnsw (embedding gvector_l2_ops) WITH (m = %s, '
                'ef_construction = %s);', m, efc),
         hnsw_bytes::bigint, round(hnsw_s::numeric, 1)::float8,
         CASE WHEN pick = 'gv_hnsw' THEN why ELSE 'the alternative' END),
        (pick = 'gv_ivfpq', 'gv_ivfpq', 'derived (lists, subvectors, bits, probes measured at build)',
         'CREATE INDEX ON items USING gv_ivfpq (embedding gvector_l2_ops);',
         ivf_bytes::bigint, round(ivf_s::numeric, 1)::float8,
         CASE WHEN pick = 'gv_ivfpq' THEN why ELSE 'the alternative' END);
END $$;
COMMENT ON FUNCTION gigavector.index_suggest(int, bigint, bigint, float8) IS
    'the recommended access method and options for a table, with a CREATE INDEX statement '
    '(replace items and embedding) and the estimated size and build time, from the trade-offs '
    'measured on GloVe-100 and MNIST-784 (gigavector.measured_tradeoffs)';

-- index_check: the access method's structural check, then the table's side
-- (every entry points to an existing row; with heapallindexed every live
-- row is indexed once and found by a search for its own vector); the
-- outcome is kept for gigavector.health.
CREATE FUNCTION gigavector.index_check_rows(index regclass, heapallindexed boolean)
    RETURNS SETOF text
    AS 'MODULE_PATHNAME', 'gv_index_check' LANGUAGE C STRICT VOLATILE;

CREATE FUNCTION gigavector.index_check(index regclass, heapallindexed boolean DEFAULT false)
    RETURNS TABLE(problem text)
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    found text[];
BEGIN
    SELECT coalesce(array_agg(p), '{}') INTO found FROM gigavector.index_check_rows(index, heapallindexed) p;
    IF gigavector.can_record() THEN
        INSERT INTO gigavector.check_history (indexrelid, relfilenode, heapallindexed, problems,
                                              first_problem)
        SELECT index, c.relfilenode, heapallindexed, cardinality(found), found[1]
          FROM pg_class c WHERE c.oid = index;
    END IF;
    RETURN QUERY SELECT unnest(found);
END $$;
COMMENT ON FUNCTION gigavector.index_check(regclass, boolean) IS
    'integrity check of a gv_hnsw or gv_ivfpq index in the spirit of amcheck: pages and links, '
    'every entry against the heap, and with heapallindexed every live row indexed once and found '
    'by a search for its own vector; one row per problem, none when sound. Holds ShareLock on '
    'the table while it runs';

-- ---------------------------------------------------------------------------
-- the views
-- ---------------------------------------------------------------------------

-- A health finding: severity 1 degraded, 2 unhealthy.
CREATE TYPE gigavector.health_finding AS (severity int, reason text, action text);

CREATE FUNCTION gigavector.counters_available() RETURNS boolean
    AS 'MODULE_PATHNAME', 'gv_counters_available_sql' LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION gigavector.counters_available() IS
    'whether the run-time counters exist (shared_preload_libraries includes gigavector)';

CREATE VIEW gigavector.index_stats AS
WITH idx AS (
    SELECT i.indexrelid, i.indrelid, n.nspname, t.relname, c.relname AS indexrelname,
           am.amname, opc.opcname, c.relfilenode
      FROM pg_catalog.pg_index i
      JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid
      JOIN pg_catalog.pg_am am ON am.oid = c.relam
      JOIN pg_catalog.pg_class t ON t.oid = i.indrelid
      JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace
      JOIN pg_catalog.pg_opclass opc ON opc.oid = i.indclass[0]
     WHERE am.amname IN ('gv_hnsw', 'gv_ivfpq')
       AND pg_catalog.has_table_privilege(i.indrelid, 'SELECT')
), base AS (
    SELECT idx.*, f.*,
           coalesce(st.n_dead_tup, 0) AS table_dead,
           pg_catalog.pg_relation_size(idx.indexrelid) AS size_bytes,
           ctr.scans AS ctr_scans, ctr.tuples_returned AS ctr_tuples, ctr.inserts AS ctr_inserts,
           ctr.mean_ms, ctr.p50_ms, ctr.p95_ms, ctr.p99_ms, ctr.recent_qps, ctr.stats_since,
           ctr.counts_lost,
           si.idx_scan, si.idx_tup_fetch,
           rh.recall AS r_recall, rh.k AS r_k, rh.settings AS r_settings,
           rh.measured_at AS r_at, rh.source AS r_source,
           rd.recall AS d_recall, rd.k AS d_k, rd.queries AS d_queries,
           coalesce(tu.target_recall,
                    nullif(pg_catalog.current_setting('gigavector.target_recall', true), '')::float8,
                    0.95) AS target,
           ch.problems AS check_problems, ch.first_problem, ch.checked_at
      FROM idx
      CROSS JOIN LATERAL gigavector.index_facts(idx.indexrelid) f
      LEFT JOIN pg_catalog.pg_stat_all_tables st ON st.relid = idx.indrelid
      LEFT JOIN pg_catalog.pg_stat_all_indexes si ON si.indexrelid = idx.indexrelid
      LEFT JOIN gigavector.index_counters() ctr ON ctr.indexrelid = idx.indexrelid
      LEFT JOIN LATERAL (SELECT * FROM gigavector.recall_history h
                          WHERE h.indexrelid = idx.indexrelid AND h.relfilenode = idx.relfilenode
                          ORDER BY h.measured_at DESC LIMIT 1) rh ON true
      -- health judges the index's own defaults: measurements taken under a
      -- session override (the settings name the GUC) do not count there
      LEFT JOIN LATERAL (SELECT * FROM gigavector.recall_history h
                          WHERE h.indexrelid = idx.indexrelid AND h.relfilenode = idx.relfilenode
                            AND h.settings !~ '\(gigavector\.'
                          ORDER BY h.measured_at DESC LIMIT 1) rd ON true
      LEFT JOIN gigavector.index_tuning tu
             ON tu.indexrelid = idx.indexrelid AND tu.relfilenode = idx.relfilenode
      LEFT JOIN LATERAL (SELECT * FROM gigavector.check_history h
                          WHERE h.indexrelid = idx.indexrelid AND h.relfilenode = idx.relfilenode
                          ORDER BY h.checked_at DESC LIMIT 1) ch ON true
), findings AS (
    SELECT b.*,
           (b.dead_entries + b.table_dead) AS all_dead,
           CASE WHEN b.live_entries + b.dead_entries > 0
                THEN (b.dead_entries + b.table_dead)::float8
                     / greatest(b.live_entries + b.dead_entries, 1) END AS dead_ratio,
           ARRAY[
             CASE WHEN b.am_status IS NOT NULL THEN
               ROW(CASE b.am_status WHEN 'unhealthy' THEN 2 ELSE 1 END, b.am_reason,
                   b.am_action || ' ' || b.indexrelid::regclass::text)::gigavector.health_finding END,
             CASE WHEN b.check_problems > 0 THEN
               ROW(2, pg_catalog.format('index_check found %s problem(s) at %s: %s',
                   b.check_problems, b.checked_at, b.first_problem),
                   'REINDEX INDEX ' || b.indexrelid::regclass::text)::gigavector.health_finding END,
             CASE WHEN (b.dead_entries + b.table_dead)::float8
                       / greatest(b.live_entries + b.dead_entries, 1) > 0.10 THEN
               ROW(1, pg_catalog.format('%s%% of the entries are dead',
                   round(100 * (b.dead_entries + b.table_dead)::numeric
                         / greatest(b.live_entries + b.dead_entries, 1), 1)),
                   'VACUUM ' || b.indrelid::regclass::text)::gigavector.health_finding END,
             CASE WHEN b.d_recall < b.target - gigavector.recall_margin(b.target, b.d_queries, b.d_k) THEN
               ROW(1, pg_catalog.format('measured recall@%s %s is below the target %s',
                   b.d_k, round(b.d_recall::numeric, 3), b.target),
                   pg_catalog.format('SELECT * FROM gigavector.tune(%L, %s)',
                                     b.indexrelid::regclass::text, b.target))::gigavector.health_finding END,
             CASE WHEN pg_catalog.current_setting('gigavector.health_max_index_size', true)
                       NOT IN ('', '0')
                   AND b.size_bytes > pg_catalog.pg_size_bytes(
                       pg_catalog.current_setting('gigavector.health_max_index_size', true)) THEN
               ROW(1, pg_catalog.format('the index (%s) is above gigavector.health_max_index_size',
                   pg_catalog.pg_size_pretty(b.size_bytes)),
                   'rebuild smaller: SELECT * FROM gigavector.index_suggest(...) with '
                   'memory_budget_bytes')::gigavector.health_finding END
           ] AS raw_findings
      FROM base b
)
SELECT f.nspname AS schemaname,
       f.relname,
       f.indexrelname,
       f.indexrelid,
       f.amname AS access_method,
       f.opcname AS operator_class,
       f.dimensions,
       f.options,
       f.live_entries,
       f.all_dead AS dead_entries,
       round(f.dead_ratio::numeric, 4)::float8 AS dead_ratio,
       f.size_bytes,
       CASE WHEN gigavector.counters_available() THEN coalesce(f.ctr_scans, 0)
            ELSE f.idx_scan END AS scans,
       CASE WHEN gigavector.counters_available() THEN coalesce(f.ctr_tuples, 0)
            ELSE f.idx_tup_fetch END AS tuples_returned,
       CASE WHEN gigavector.counters_available() THEN coalesce(f.ctr_inserts, 0) END AS inserts,
       f.mean_ms, f.p50_ms, f.p95_ms, f.p99_ms, f.recent_qps,
       f.r_recall AS last_recall, f.r_k AS recall_k, f.r_settings AS recall_settings,
       f.r_at AS recall_measured_at,
       f.target AS target_recall,
       CASE (SELECT max(x.severity) FROM unnest(f.raw_findings) x)
            WHEN 2 THEN 'unhealthy' WHEN 1 THEN 'degraded' ELSE 'healthy' END AS health,
       (SELECT string_agg(x.reason, '; ' ORDER BY x.severity DESC)
          FROM unnest(f.raw_findings) x WHERE x.severity IS NOT NULL) AS health_reason,
       (SELECT string_agg(x.action, '; ' ORDER BY x.severity DESC)
          FROM unnest(f.raw_findings) x WHERE x.severity IS NOT NULL) AS health_action,
       f.stats_since,
       CASE WHEN gigavector.counters_available() THEN 'shared memory'
            ELSE 'scans from pg_stat_all_indexes; timings need shared_preload_libraries = '
                 '''gigavector''' END AS counters_source
  FROM findings f;
COMMENT ON VIEW gigavector.index_stats IS
    'one row per gv_hnsw / gv_ivfpq index on a table you may SELECT: facts, options in effect, '
    'entries, size, run-time counters and latency percentiles (shared memory, with '
    'shared_preload_libraries), the last measured recall and the health verdict';
GRANT SELECT ON gigavector.index_stats TO PUBLIC;

CREATE VIEW gigavector.health AS
SELECT schemaname, relname, indexrelname, access_method, health AS status,
       coalesce(health_reason, 'no finding') AS reason, health_action AS action
  FROM gigavector.index_stats;
COMMENT ON VIEW gigavector.health IS
    'healthy / degraded / unhealthy per index, why, and the action to take';
GRANT SELECT ON gigavector.health TO PUBLIC;

CREATE VIEW gigavector.dashboard AS
SELECT indexrelname AS index, access_method AS am,
       pg_catalog.pg_size_pretty(size_bytes) AS size,
       live_entries AS rows,
       round(recent_qps::numeric, 1) AS qps,
       round(p95_ms::numeric, 2) AS p95_ms,
       round(last_recall::numeric, 3) AS recall,
       health,
       coalesce(health_action, '') AS action
  FROM gigavector.index_stats
 ORDER BY CASE health WHEN 'unhealthy' THEN 0 WHEN 'degraded' THEN 1 ELSE 2 END,
          size_bytes DESC;
COMMENT ON VIEW gigavector.dashboard IS
    'one screen: every index with size, recent QPS, p95, recall, health and the action';
GRANT SELECT ON gigavector.dashboard TO PUBLIC;

-- ---------------------------------------------------------------------------
-- Embeddings from SQL (src/pg/embed): an HTTP call to an embedding API per
-- batch. VOLATILE (a network call whose answer may change), PARALLEL
-- RESTRICTED (one backend's connection), search_path pinned. Not granted
-- to PUBLIC: a call spends the API key's quota; GRANT EXECUTE to the roles
-- that may.
-- ---------------------------------------------------------------------------

CREATE FUNCTION gigavector.embed(input text, model text DEFAULT NULL, provider text DEFAULT NULL,
    dimensions int DEFAULT NULL) RETURNS @extschema@.gvector
    AS 'MODULE_PATHNAME', 'gv_embed_text' LANGUAGE C VOLATILE PARALLEL RESTRICTED
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION gigavector.embed(text, text, text, int) IS
    'the embedding of a text from an embedding API (gigavector.embedding_provider: openai, azure, '
    'ollama, google, cohere, voyage, huggingface), as a gvector';

CREATE FUNCTION gigavector.embed(inputs text[], model text DEFAULT NULL, provider text DEFAULT NULL,
    dimensions int DEFAULT NULL) RETURNS TABLE(ord int, embedding @extschema@.gvector)
    AS 'MODULE_PATHNAME', 'gv_embed_array' LANGUAGE C VOLATILE PARALLEL RESTRICTED
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION gigavector.embed(text[], text, text, int) IS
    'the embeddings of texts, one HTTP request per gigavector.embedding_batch_size of them, in '
    'input order (ord counts from 1)';

REVOKE EXECUTE ON FUNCTION gigavector.embed(text, text, text, int) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION gigavector.embed(text[], text, text, int) FROM PUBLIC;

-- The embedding cache (gigavector.embedding_cache = on): one row per
-- provider, model, dimensions (0: the model's own) and SHA-256 of the input
-- text (UTF-8). Only its owner reads it; embed() reads and writes it as the
-- owner, so callers share it without seeing each other's texts.
CREATE TABLE gigavector.embedding_cache (
    provider text NOT NULL,
    model text NOT NULL,
    dimensions int NOT NULL,
    input_hash bytea NOT NULL,
    embedding @extschema@.gvector NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, model, dimensions, input_hash));
REVOKE ALL ON gigavector.embedding_cache FROM PUBLIC;
COMMENT ON TABLE gigavector.embedding_cache IS
    'embeddings gigavector.embed() fetched, reused when gigavector.embedding_cache is on';

CREATE FUNCTION gigavector.embedding_cache_prune(older_than interval) RETURNS bigint
    LANGUAGE sql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $$ WITH gone AS (DELETE FROM gigavector.embedding_cache
                        WHERE created_at < now() - $1 RETURNING 1)
          SELECT count(*) FROM gone $$;
REVOKE EXECUTE ON FUNCTION gigavector.embedding_cache_prune(interval) FROM PUBLIC;
COMMENT ON FUNCTION gigavector.embedding_cache_prune(interval) IS
    'deletes cached embeddings older than the interval (the cache''s owner); returns how many';
