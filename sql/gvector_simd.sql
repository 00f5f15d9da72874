-- every SIMD path the CPU has gives the same distances as the scalar path
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS gigavector;
RESET client_min_messages;

SELECT active_path = cpu_best_path AS auto_picks_best, setting FROM gigavector.simd_info();

SELECT setseed(0.42);
CREATE TABLE simd_vecs AS
SELECT d, i, array_agg((random() * 2 - 1)::real)::gvector AS v
FROM generate_series(1, 70) d, generate_series(1, 4) i, LATERAL generate_series(1, d) k
GROUP BY d, i;
INSERT INTO simd_vecs
SELECT d, i, array_agg((random() * 2 - 1)::real)::gvector
FROM unnest(ARRAY[100, 255, 256, 257, 768, 1536, 3000]) d, generate_series(1, 4) i, LATERAL generate_series(1, d) k
GROUP BY d, i;

CREATE FUNCTION pg_temp.distances() RETURNS TABLE (d int, i int, l2 float8, ip float8, cos float8, l1 float8)
LANGUAGE sql AS $$
    SELECT a.d, a.i, a.v <-> b.v, a.v <#> b.v, a.v <=> b.v, a.v <+> b.v
    FROM simd_vecs a JOIN simd_vecs b ON a.d = b.d AND b.i = 1 $$;

SET gigavector.simd = scalar;
SELECT active_path FROM gigavector.simd_info();
CREATE TEMP TABLE reference AS SELECT * FROM pg_temp.distances();

-- compare each path the CPU supports with the scalar reference
CREATE FUNCTION pg_temp.check_paths() RETURNS TABLE (path text, supported bool, mismatches bigint)
LANGUAGE plpgsql AS $$
DECLARE
    p text;
BEGIN
    FOREACH p IN ARRAY ARRAY['sse', 'avx2', 'avx512'] LOOP
        path := p;
        BEGIN
            PERFORM set_config('gigavector.simd', p, false);
            supported := true;
        EXCEPTION WHEN feature_not_supported THEN
            supported := false;
        END;
        IF supported THEN
            SELECT count(*) INTO mismatches
            FROM pg_temp.distances() x JOIN reference r USING (d, i)
            WHERE abs(x.l2 - r.l2) > 1e-4 * (1 + abs(r.l2))
               OR abs(x.ip - r.ip) > 1e-4 * (1 + abs(r.ip))
               OR abs(x.cos - r.cos) > 1e-4
               OR abs(x.l1 - r.l1) > 1e-4 * (1 + abs(r.l1));
            -- the path really is in use
            IF (SELECT active_path FROM gigavector.simd_info()) NOT LIKE p || '%' THEN
                mismatches := -1;
            END IF;
        ELSE
            mismatches := 0;
        END IF;
        RETURN NEXT;
    END LOOP;
END $$;
-- machine-independent output: every supported path agrees, and paths are
-- supported in order (a CPU with avx512 has avx2 and sse)
SELECT bool_and(mismatches = 0) AS all_paths_agree,
       bool_and(supported) OR NOT bool_or(supported AND path = 'avx512') AS ordered
FROM pg_temp.check_paths();
SELECT count(*) > 0 AS compared_rows FROM reference;

-- a level above the CPU's is refused; bad names are refused
SET gigavector.simd = no_such_path;
RESET gigavector.simd;
SELECT setting FROM gigavector.simd_info();
DROP TABLE simd_vecs;
