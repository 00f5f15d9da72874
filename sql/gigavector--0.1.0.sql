-- GigaVector 0.1.0
-- The gvector type, operators and operator classes go in the schema the
-- extension is created in; management functions and views go in the schema
-- "gigavector". Later versions ship upgrade scripts gigavector--A--B.sql.

\echo Use "CREATE EXTENSION gigavector" to load this file. \quit

CREATE SCHEMA gigavector;

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
