#!/usr/bin/env bash
# gvector values must survive pg_dump/pg_restore and COPY bit for bit.
#
# Run by scripts/test.sh against its throwaway cluster (PGHOST, PGPORT, PGUSER set;
# the user may create databases). Builds a table of random vectors spanning the whole
# float32 range plus edge values (denormals, -0, +-FLT_MAX, FLT_MIN, 0.1, 0.30000001),
# then checks that
#   1. the text input kept each edge value exactly (against real's own input function);
#   2. pg_dump -Fc | pg_restore,
#   3. pg_dump -Fp | psql, and
#   4. COPY (FORMAT binary) out and back in (gvector_send / gvector_recv)
# reproduce every vector exactly: gvector_send(v) bytes, v::real[] element bits
# (float4send) and the text form are compared row by row.
set -euo pipefail

DIM="${GV_DUMP_DIM:-32}"
ROWS="${GV_DUMP_ROWS:-3000}"
WORK="${GV_TEST_TMP:-$(mktemp -d)}"
TAG="gvdump_$$"
SRC="${TAG}_src"
DBS=("$SRC" "${TAG}_custom" "${TAG}_plain" "${TAG}_copy")

: "${PGHOST:?PGHOST must be set (run through scripts/test.sh)}"
: "${PGPORT:?PGPORT must be set}"

psql_() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }

cleanup() {
    local db
    for db in "${DBS[@]}"; do dropdb --if-exists "$db" >/dev/null 2>&1 || true; done
}
trap cleanup EXIT

fail=0
check() { # check NAME FILE_A FILE_B
    if cmp -s "$2" "$3"; then
        echo "ok   - $1"
    else
        if [[ "$2" == *.bin ]]; then
            echo "FAIL - $1: $(cmp "$2" "$3" 2>&1 || true)"
        else
            echo "FAIL - $1: $(diff "$2" "$3" | grep -c '^<' || true) rows differ; the first (id|send|bits|text):"
            diff "$2" "$3" | grep '^[<>]' | head -n 6 | cut -c1-240 || true
        fi
        fail=1
    fi
}

# Row-by-row fingerprint of table t: id, send bytes, element bits, text.
fingerprint() { # fingerprint DB OUTFILE
    psql_ -d "$1" -At -o "$2" <<'SQL'
SELECT t.id,
       coalesce(encode(gvector_send(t.v), 'hex'), 'NULL'),
       coalesce((SELECT string_agg(encode(float4send(x), 'hex'), '' ORDER BY ord)
                 FROM unnest(t.v::real[]) WITH ORDINALITY AS u(x, ord)), 'NULL'),
       coalesce(t.v::text, 'NULL')
FROM t ORDER BY t.id;
SQL
    local n
    n="$(wc -l <"$2")"
    [[ "$n" -eq "$EXPECTED_ROWS" ]] || {
        echo "FAIL - $1 has $n rows, expected $EXPECTED_ROWS"
        fail=1
    }
}

echo "# source database $SRC: $ROWS random gvector($DIM) rows + edge-value rows"
createdb "$SRC"
psql_ -d "$SRC" -c 'CREATE EXTENSION gigavector'

# Edge values; each vector literal is padded to DIM with cycling values from the list.
EDGE=(1e-38 -3.4028235e38 3.4028235e38 1.17549435e-38 -1.17549435e-38 1e-45 -1e-45
    1.4e-45 2.3509886e-38 0 -0 0.1 -0.1 0.30000001 0.3 1 -1 16777217 3.1415927
    1.0000001 0.99999994 6.0221409e23 1.1754942e-38 123456.79 -2.5 1e-10 7e-39)
edge_vec() { # edge_vec OFFSET -> text literal of DIM values
    local i out=""
    for ((i = 0; i < DIM; i++)); do
        out+="${out:+,}${EDGE[$(((i + $1) % ${#EDGE[@]}))]}"
    done
    echo "[$out]"
}

{
    echo "CREATE TABLE t (id int PRIMARY KEY, v gvector($DIM));"
    # Random vectors: sign * mantissa in [0.1, 1) * 10^e with e in [-37, 37]: normal
    # float32 values over the whole range, most with full 24-bit mantissas. The
    # subquery refers to the outer g so that it is evaluated per row.
    echo "INSERT INTO t
          SELECT g, ARRAY(SELECT ((CASE WHEN random() < 0.5 THEN -1 ELSE 1 END)
                                  * (0.1 + 0.9 * random())
                                  * power(10::float8, floor(random() * 75) - 37))::real
                          FROM generate_series(1, $DIM + 0 * g))::gvector($DIM)
          FROM generate_series(1, $ROWS) g;"
    # Random float32 bit patterns would be better still, but SQL has no int->float4 bit
    # cast; uniform random() values add the short-mantissa cases.
    echo "INSERT INTO t
          SELECT $ROWS + g, ARRAY(SELECT random()::real FROM generate_series(1, $DIM + 0 * g))::gvector($DIM)
          FROM generate_series(1, 200) g;"
    for ((k = 0; k < ${#EDGE[@]}; k++)); do
        echo "INSERT INTO t VALUES ($((-1 - k)), '$(edge_vec "$k")');"
    done
    echo "INSERT INTO t VALUES (-1000, NULL);"
    echo "ANALYZE t;"
} | psql_ -d "$SRC"
EXPECTED_ROWS=$((ROWS + 200 + ${#EDGE[@]} + 1))

# 1. Text input must give exactly what float4in gives for each edge literal.
bad="$(
    {
        echo "SELECT count(*) FROM (VALUES"
        sep=" "
        for ((k = 0; k < ${#EDGE[@]}; k++)); do
            lit="$(edge_vec "$k")"
            echo "$sep($((-1 - k)), '{${lit:1:${#lit}-2}}'::real[])"
            sep=","
        done
        echo ") AS e(id, r) JOIN t USING (id)
              WHERE (SELECT string_agg(encode(float4send(x), 'hex'), '' ORDER BY o)
                     FROM unnest(t.v::real[]) WITH ORDINALITY AS u(x, o))
                 IS DISTINCT FROM
                    (SELECT string_agg(encode(float4send(x), 'hex'), '' ORDER BY o)
                     FROM unnest(e.r) WITH ORDINALITY AS u(x, o));"
    } | psql_ -d "$SRC" -At
)"
if [[ "$bad" == 0 ]]; then
    echo "ok   - edge values parsed exactly (denormals, -0, FLT_MAX, FLT_MIN, 0.30000001)"
else
    echo "FAIL - $bad edge-value vectors differ from real[] input of the same literals"
    fail=1
fi

fingerprint "$SRC" "$WORK/src.fp"

# 2. custom-format dump, pg_restore into a fresh database
pg_dump -Fc -d "$SRC" -f "$WORK/dump.custom"
createdb "${TAG}_custom"
pg_restore --exit-on-error --no-owner -d "${TAG}_custom" "$WORK/dump.custom"
fingerprint "${TAG}_custom" "$WORK/custom.fp"
check "pg_dump -Fc | pg_restore keeps every vector bit-identical" "$WORK/src.fp" "$WORK/custom.fp"

# 3. plain SQL dump, restored with psql
pg_dump -Fp -d "$SRC" -f "$WORK/dump.sql"
createdb "${TAG}_plain"
psql_ -d "${TAG}_plain" -f "$WORK/dump.sql" >/dev/null
fingerprint "${TAG}_plain" "$WORK/plain.fp"
check "pg_dump -Fp | psql keeps every vector bit-identical" "$WORK/src.fp" "$WORK/plain.fp"

# 4. COPY binary out and back in (send/recv)
createdb "${TAG}_copy"
psql_ -d "${TAG}_copy" -c 'CREATE EXTENSION gigavector' \
    -c "CREATE TABLE t (id int PRIMARY KEY, v gvector($DIM))"
psql_ -d "$SRC" -c "\\copy t TO '$WORK/t.bin' (FORMAT binary)"
psql_ -d "${TAG}_copy" -c "\\copy t FROM '$WORK/t.bin' (FORMAT binary)"
fingerprint "${TAG}_copy" "$WORK/copy.fp"
check "COPY (FORMAT binary) out and in keeps every vector bit-identical" "$WORK/src.fp" "$WORK/copy.fp"

# The binary COPY of the round-tripped table must equal the original byte for byte.
psql_ -d "${TAG}_copy" -c "\\copy (SELECT * FROM t ORDER BY id) TO '$WORK/t2.bin' (FORMAT binary)"
psql_ -d "$SRC" -c "\\copy (SELECT * FROM t ORDER BY id) TO '$WORK/t1.bin' (FORMAT binary)"
check "binary COPY output identical after the round trip" "$WORK/t1.bin" "$WORK/t2.bin"

if [[ $fail -ne 0 ]]; then
    echo "dump_restore: FAILED"
    exit 1
fi
echo "dump_restore: all checks passed"
