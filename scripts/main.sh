#!/usr/bin/env bash
# GigaVector: the main job.   bash scripts/main.sh [run|stop|status|-h]
#
#   run (default)  install missing Debian packages, build and install the extension,
#                  start a local PostgreSQL 15 cluster in <repo>/.gvdata (reused when it
#                  exists; started when stopped), create database "gigavector" with the
#                  extension, load the GloVe-100 vectors into words(id, word, embedding),
#                  run nearest-neighbour queries, print stats and how to connect.
#                  The cluster is left running. Running it again reuses everything.
#   stop           stop the local cluster
#   status         say whether it runs and how to connect
#
# Environment:
#   GV_PORT=5499             port of the cluster (Unix socket only, in .gvdata/run)
#   GV_GLOVE_DIR=DIR         fvecs + words to load (default <repo>/../shared/data/glove-100)
#   GV_RANDOM_ROWS=20000     rows of random vectors when the GloVe files are absent
#   GV_DEMO_WORDS="king paris computer music water"   query words
#   GV_RESET=1               drop and recreate the database (and reload the data)
#   GV_SKIP_INSTALL_DEPS=1   don't check/install Debian packages
#   GV_SKIP_BUILD=1          don't build/install (use what is installed)
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$GV_REPO"

GV_PORT="${GV_PORT:-5499}"
GV_DB="gigavector"
GV_DIM=100
GV_GLOVE_DIR="${GV_GLOVE_DIR:-$GV_REPO/../shared/data/glove-100}"
GV_RANDOM_ROWS="${GV_RANDOM_ROWS:-20000}"
GV_DEMO_WORDS="${GV_DEMO_WORDS:-king paris computer music water}"
# Used in place of demo words that the loaded vocabulary lacks (the GloVe base set is a
# random 100k sample of GloVe's 341k words: paris, computer and music are not in it).
GV_SPARE_WORDS="science jazz guitar football cat"

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'; }

ACTION="${1:-run}"
case "$ACTION" in
-h | --help | help)
    usage
    exit 0
    ;;
run | stop | status) ;;
*)
    gv_err "unknown action: $ACTION"
    usage >&2
    exit 2
    ;;
esac
[[ $# -le 1 ]] || {
    gv_err "too many arguments: $*"
    exit 2
}

# ---------------------------------------------------------------- where the cluster lives
# <repo>/.gvdata, owned by the unprivileged user. If that user cannot reach the clone
# (e.g. it is under /root), the data lives in its home and .gvdata is a symlink to it.
locate_gvdata() {
    local link="$GV_REPO/.gvdata"
    if [[ -L "$link" ]]; then
        GVDATA="$(readlink -f "$link")"
    elif [[ -d "$link" ]]; then
        GVDATA="$link"
    elif [[ "$GV_PGUSER_SEES_REPO" == 1 ]]; then
        GVDATA="$link"
    else
        local home
        home="$(getent passwd "$GV_PGUSER" | cut -d: -f6)"
        GVDATA="$home/gvdata-$(printf '%s' "$GV_REPO" | sha256sum | cut -c1-12)"
        gv_log "$GV_PGUSER cannot reach $GV_REPO: cluster kept in $GVDATA, linked from .gvdata"
    fi
    PGDATA_DIR="$GVDATA/pgdata"
    SOCKDIR="$GVDATA/run"
    LOGFILE="$GVDATA/postgres.log"
}

make_gvdata() {
    if [[ ! -d "$GVDATA" ]]; then
        mkdir -p "$GVDATA"
        if gv_is_root; then chown "$GV_PGUSER:" "$GVDATA"; fi
    fi
    if [[ "$GVDATA" != "$GV_REPO/.gvdata" && ! -e "$GV_REPO/.gvdata" ]]; then
        ln -s "$GVDATA" "$GV_REPO/.gvdata"
    fi
    gv_as_pguser mkdir -p "$SOCKDIR"
    gv_as_pguser chmod 0700 "$SOCKDIR"
    if ! gv_as_pguser test -w "$GVDATA"; then
        gv_die "$GVDATA is not writable by $GV_PGUSER (remove it or fix its owner)"
    fi
}

stop_hint() {
    if gv_is_root && [[ "$GV_PGUSER" != root ]]; then
        echo "runuser -u $GV_PGUSER -- $GV_PGBIN/pg_ctl -D $PGDATA_DIR stop"
    else
        echo "$GV_PGBIN/pg_ctl -D $PGDATA_DIR stop"
    fi
}

# ---------------------------------------------------------------- SQL helpers
psql_db() { # psql_db DB [psql args...]: as the invoking user, through the cluster's socket
    local db="$1"
    shift
    "$GV_PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCKDIR" -p "$PORT" -U "$GV_PGUSER" -d "$db" "$@"
}
sql_value() { psql_db "$1" -At -c "$2"; }

# The ANN index step: a gv_hnsw and a gv_ivfpq index on words(embedding) for
# cosine distance, so that the demo queries below use them (the planner picks
# gv_hnsw for ORDER BY ... LIMIT on 100k rows). Built once; kept across runs.
# build_index NAME WHAT "CREATE INDEX ...": builds it unless it exists.
build_index() {
    if [[ -n "$(sql_value "$GV_DB" "SELECT 1 FROM pg_class WHERE relname = '$1'")" ]]; then
        gv_log "index $1 exists"
        return 0
    fi
    gv_log "building $2 index $1"
    psql_db "$GV_DB" -c "SET maintenance_work_mem = '512MB'" -c "SET max_parallel_maintenance_workers = 1" \
        -c '\timing on' -c "$3"
}

create_indexes() {
    build_index words_embedding_hnsw "gv_hnsw (cosine)" \
        "CREATE INDEX words_embedding_hnsw ON words USING gv_hnsw (embedding gvector_cosine_ops) WITH (ef_search = 100)"
    psql_db "$GV_DB" -c "SELECT pg_size_pretty(pg_relation_size('words_embedding_hnsw')) AS index_size,
        (SELECT count(*) FROM gigavector.hnsw_check('words_embedding_hnsw')) AS structural_problems"
    build_index words_embedding_ivfpq "gv_ivfpq (cosine; options derived from the data)" \
        "CREATE INDEX words_embedding_ivfpq ON words USING gv_ivfpq (embedding gvector_cosine_ops)"
    psql_db "$GV_DB" -c "SELECT pg_size_pretty(pg_relation_size('words_embedding_ivfpq')) AS index_size,
        round(100.0 * pg_relation_size('words_embedding_ivfpq')
              / greatest((SELECT count(*) FROM words) * 4 * $GV_DIM, 1), 1) AS pct_of_vectors,
        (SELECT count(*) FROM gigavector.ivfpq_check('words_embedding_ivfpq')) AS structural_problems"
}

# ---------------------------------------------------------------- data loading
# Python (standard library only): writes COPY text rows "id<TAB>word<TAB>[v1,...]" to stdout.
#   fvecs FVECS WORDS        the vectors of FVECS with the words of WORDS (line i = id i)
#   random N DIM SEED WORDS  N random vectors; the words in WORDS come first, then wordN
#   count FVECS              prints "<rows> <dim>" of FVECS
# Floats are printed with repr() of the float32 value read: exact round trip.
IFS= read -r -d '' PY_VECTORS <<'PY' || true
import random, struct, sys

def esc(s):
    return (s.replace("\\", "\\\\").replace("\t", "\\t")
             .replace("\n", "\\n").replace("\r", "\\r"))

def emit(out, rows):
    out.write("".join(rows))

def fvecs_rows(path):
    with open(path, "rb") as f:
        while True:
            head = f.read(4)
            if not head:
                return
            (d,) = struct.unpack("<i", head)
            body = f.read(4 * d)
            if len(body) != 4 * d:
                sys.exit(f"{path}: truncated vector")
            yield struct.unpack(f"<{d}f", body)

def main():
    mode = sys.argv[1]
    out = sys.stdout
    if mode == "count":
        path = sys.argv[2]
        with open(path, "rb") as f:
            head = f.read(4)
        if len(head) != 4:
            sys.exit(f"{path}: empty")
        (d,) = struct.unpack("<i", head)
        import os
        size = os.path.getsize(path)
        if size % (4 + 4 * d):
            sys.exit(f"{path}: size {size} is not a multiple of {4 + 4 * d}")
        print(size // (4 + 4 * d), d)
        return
    rows = []
    if mode == "fvecs":
        with open(sys.argv[3], encoding="utf-8") as wf:
            for i, vec in enumerate(fvecs_rows(sys.argv[2])):
                word = wf.readline().rstrip("\n") or f"word{i}"
                rows.append(f"{i}\t{esc(word)}\t[{','.join(map(repr, vec))}]\n")
                if len(rows) >= 2000:
                    emit(out, rows)
                    rows = []
    elif mode == "random":
        n, d, seed = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
        first = sys.argv[5].split()
        rng = random.Random(seed)
        pack = struct.Struct(f"<{d}f")
        for i in range(n):
            vec = pack.unpack(pack.pack(*[rng.gauss(0.0, 1.0) for _ in range(d)]))
            word = first[i] if i < len(first) else f"word{i}"
            rows.append(f"{i}\t{esc(word)}\t[{','.join(map(repr, vec))}]\n")
            if len(rows) >= 2000:
                emit(out, rows)
                rows = []
    else:
        sys.exit(f"unknown mode {mode}")
    emit(out, rows)
    out.flush()

try:
    main()
except BrokenPipeError:
    sys.exit("vector stream: the reader (psql) stopped early")
PY

load_words() {
    local fvecs="$GV_GLOVE_DIR/base.fvecs" words="$GV_GLOVE_DIR/base_words.txt"
    local src_args=() marker rows dim
    if [[ -f "$fvecs" && -f "$words" ]]; then
        local counted
        counted="$(/usr/bin/python3 -c "$PY_VECTORS" count "$fvecs")" || gv_die "cannot read $fvecs"
        read -r rows dim <<<"$counted"
        [[ "$dim" -eq "$GV_DIM" ]] || gv_die "$fvecs has dimension $dim, expected $GV_DIM"
        fvecs="$(readlink -f "$fvecs")"
        words="$(readlink -f "$words")"
        marker="glove-100 base.fvecs, $rows rows"
        src_args=(fvecs "$fvecs" "$words")
    else
        gv_warn "GloVe files not found in $GV_GLOVE_DIR: loading $GV_RANDOM_ROWS random vectors instead"
        rows="$GV_RANDOM_ROWS"
        marker="random gaussian vectors, $rows rows"
        src_args=(random "$rows" "$GV_DIM" 42 "$GV_DEMO_WORDS $GV_SPARE_WORDS")
    fi

    local have_marker have_rows
    have_marker="$(sql_value "$GV_DB" "SELECT obj_description('public.words'::regclass, 'pg_class')" 2>/dev/null || true)"
    if [[ "$have_marker" == "$marker" ]]; then
        have_rows="$(sql_value "$GV_DB" "SELECT count(*) FROM words")"
        if [[ "$have_rows" -eq "$rows" ]]; then
            gv_log "table words already holds $marker: not reloading"
            return 0
        fi
    fi

    gv_log "loading words: $marker"
    local t0=$SECONDS
    psql_db "$GV_DB" <<SQL
SET client_min_messages = warning;
DROP TABLE IF EXISTS words;
CREATE TABLE words (id int, word text, embedding gvector($GV_DIM));
SQL
    /usr/bin/python3 -c "$PY_VECTORS" "${src_args[@]}" |
        psql_db "$GV_DB" -c '\copy words FROM STDIN'
    psql_db "$GV_DB" <<SQL
ALTER TABLE words ADD PRIMARY KEY (id);
CREATE INDEX words_word_idx ON words (word);
COMMENT ON TABLE words IS '$marker';
VACUUM ANALYZE words;
SQL
    gv_ok "loaded $(sql_value "$GV_DB" "SELECT count(*) FROM words") rows in $((SECONDS - t0))s"
}

# ---------------------------------------------------------------- demo
demo_queries() {
    local w want=() spare=() present
    read -r -a want <<<"$GV_DEMO_WORDS"
    read -r -a spare <<<"$GV_SPARE_WORDS"
    local shown=0 sql="\\timing on"$'\n'
    for w in "${want[@]}" "${spare[@]}"; do
        [[ $shown -lt ${#want[@]} ]] || break
        [[ "$w" =~ ^[A-Za-z0-9_.-]+$ ]] || {
            gv_warn "skipping demo word with unusual characters: $w"
            continue
        }
        present="$(sql_value "$GV_DB" "SELECT count(*) FROM words WHERE word = '$w'")"
        if [[ "$present" -eq 0 ]]; then
            gv_warn "'$w' is not in the loaded vocabulary; a spare word ($GV_SPARE_WORDS) takes its place"
            continue
        fi
        shown=$((shown + 1))
        local q="(SELECT embedding FROM words WHERE word = '$w')"
        sql+=$'\\echo\n'"\\echo '== 6 nearest neighbours of \"$w\" by cosine distance (<=>)'"$'\n'
        sql+="SELECT id, word, embedding <=> $q AS distance FROM words"
        sql+=" ORDER BY embedding <=> $q LIMIT 6;"$'\n'
    done
    gv_section "nearest-neighbour queries"
    psql_db "$GV_DB" -P pager=off <<<"$sql"
    # the first word again through gv_ivfpq (the planner prefers gv_hnsw when
    # both exist: hide it in a transaction that is rolled back)
    local first="${want[0]}"
    if [[ "$first" =~ ^[A-Za-z0-9_.-]+$ && -n "$(sql_value "$GV_DB" "SELECT 1 FROM words WHERE word = '$first'")" ]]; then
        local q="(SELECT embedding FROM words WHERE word = '$first')"
        gv_section "the same query through gv_ivfpq"
        psql_db "$GV_DB" -P pager=off <<SQL
BEGIN;
DROP INDEX words_embedding_hnsw;
EXPLAIN (COSTS OFF) SELECT id FROM words ORDER BY embedding <=> $q LIMIT 6;
\\timing on
SELECT id, word, embedding <=> $q AS distance FROM words ORDER BY embedding <=> $q LIMIT 6;
\\timing off
ROLLBACK;
SQL
    fi
}

print_stats() {
    gv_section "stats"
    psql_db "$GV_DB" -P pager=off <<'SQL'
SELECT count(*) AS rows,
       pg_size_pretty(pg_total_relation_size('words')) AS total_size,
       pg_size_pretty(pg_relation_size('words')) AS heap_size,
       obj_description('words'::regclass, 'pg_class') AS loaded_from
FROM words;
SELECT extversion AS gigavector_version FROM pg_extension WHERE extname = 'gigavector';
SQL
    psql_db "$GV_DB" -P pager=off -c 'SELECT gigavector.simd_info()' ||
        gv_warn "gigavector.simd_info() failed"
    psql_db "$GV_DB" -P pager=off -x -c \
        "SELECT * FROM gigavector.hnsw_stats('words_embedding_hnsw')" ||
        gv_warn "gigavector.hnsw_stats() failed"
    psql_db "$GV_DB" -P pager=off -x -c \
        "SELECT * FROM gigavector.ivfpq_stats('words_embedding_ivfpq')" ||
        gv_warn "gigavector.ivfpq_stats() failed"
}

# Sentence search through gigavector.embed(): scripts/embedding_server.py
# serves an OpenAI-compatible API on loopback whose model is the mean of
# the GloVe vectors of a sentence's words; 320 sentences (a seed word and
# its nearest words in the loaded vocabulary) are embedded in one call,
# indexed, and searched by the embedding of a query text. Pointing the same
# SQL at OpenAI or Ollama is a matter of settings (README, "Embeddings").
demo_embeddings() {
    if [[ ! -f "$GV_GLOVE_DIR/base.fvecs" || ! -f "$GV_GLOVE_DIR/base_words.txt" ]]; then
        gv_warn "no GloVe files in $GV_GLOVE_DIR: skipping the embedding demo"
        return 0
    fi
    gv_section "sentence search through gigavector.embed (local GloVe embedding server)"
    local portfile="$GVDATA/embedding_server.port" port="" i
    rm -f "$portfile"
    python3 "$GV_REPO/scripts/embedding_server.py" --data "$GV_GLOVE_DIR" --port 0 \
        --port-file "$portfile" >"$GVDATA/embedding_server.log" 2>&1 &
    local server=$!
    for i in $(seq 100); do [[ -s "$portfile" ]] && break; sleep 0.1; done
    port="$(cat "$portfile" 2>/dev/null || true)"
    if [[ -z "$port" ]]; then
        gv_warn "the embedding server did not start (see $GVDATA/embedding_server.log)"
        kill "$server" 2>/dev/null || true
        return 0
    fi
    gv_log "embedding server on 127.0.0.1:$port (pid $server)"
    psql_db "$GV_DB" -P pager=off <<SQL || gv_warn "the embedding demo failed"
SET gigavector.embedding_url = 'http://127.0.0.1:$port/v1';
SET gigavector.openai_api_key = 'local-demo';
SET gigavector.embedding_model = 'glove-100-mean';
DROP TABLE IF EXISTS sentences;
CREATE TABLE sentences (id int PRIMARY KEY, topic text, body text NOT NULL, embedding gvector(100));
CREATE TEMP TABLE neighbours AS
SELECT s.word AS seed, n.word, n.r
  FROM words s,
       LATERAL (SELECT w.word, row_number() OVER () AS r
                  FROM (SELECT word FROM words WHERE word <> s.word
                         ORDER BY embedding <=> s.embedding LIMIT 60) w) n
 WHERE s.word IN ('king', 'water', 'football', 'bread', 'guitar', 'mountain', 'school', 'president',
                  'cat', 'film', 'poetry', 'jazz', 'garden', 'tennis', 'horse', 'beer');
INSERT INTO sentences (id, topic, body)
SELECT row_number() OVER (ORDER BY seed, g), seed, seed || ' ' || string_agg(word, ' ' ORDER BY r)
  FROM (SELECT seed, word, r, (r - 1) / 3 AS g FROM neighbours) t
 GROUP BY seed, g;
\echo 'embedding the sentences (one call, batches of gigavector.embedding_batch_size):'
\timing on
UPDATE sentences s SET embedding = e.embedding
  FROM gigavector.embed(ARRAY(SELECT body FROM sentences ORDER BY id)) e
 WHERE s.id = e.ord;
\timing off
CREATE INDEX sentences_embedding_idx ON sentences USING gv_hnsw (embedding gvector_cosine_ops);
SELECT count(*) AS sentences, count(embedding) AS embedded FROM sentences;
\echo 'nearest sentences to "jazz guitar" (the query embedded once: a scalar subquery):'
SELECT id, topic, body,
       round((embedding <=> (SELECT gigavector.embed('jazz guitar')))::numeric, 3) AS distance
  FROM sentences ORDER BY embedding <=> (SELECT gigavector.embed('jazz guitar')) LIMIT 5;
\echo 'nearest sentences to "tennis football":'
SELECT id, topic, body FROM sentences
 ORDER BY embedding <=> (SELECT gigavector.embed('tennis football')) LIMIT 5;
EXPLAIN (COSTS OFF) SELECT id FROM sentences
 ORDER BY embedding <=> (SELECT gigavector.embed('tennis football')) LIMIT 5;
SQL
    kill "$server" 2>/dev/null || true
}

# The operator's view: a short query load on both indexes (so the shared-memory
# counters have something to show), recall measured on 100 rows of the table,
# then the dashboard (scripts/dashboard.psql) and the full index_stats rows.
print_operations() {
    gv_section "operating the indexes: load, recall, dashboard"
    psql_db "$GV_DB" -P pager=off <<'SQL'
\timing off
SELECT gigavector.stats_reset();
-- 300 kNN queries on each index, vectors from the table; each index alone in
-- turn (the other dropped in a transaction rolled back; the counters are in
-- shared memory and stay)
CREATE TEMP TABLE demo_load AS
SELECT embedding AS q FROM words WHERE id % (SELECT greatest(count(*) / 300, 1) FROM words) = 0 LIMIT 300;
\set load 'DO $$ DECLARE r record; BEGIN FOR r IN SELECT q FROM demo_load LOOP EXECUTE ''SELECT id FROM words ORDER BY embedding <=> $1 LIMIT 10'' USING r.q; END LOOP; END $$'
BEGIN;
DROP INDEX words_embedding_ivfpq;
:load;
ROLLBACK;
BEGIN;
DROP INDEX words_embedding_hnsw;
:load;
ROLLBACK;
SELECT 'words_embedding_hnsw' AS index, recall, queries, k, settings, round(mean_ms::numeric, 3) AS mean_ms
  FROM gigavector.measure_recall('words_embedding_hnsw', 100)
UNION ALL
SELECT 'words_embedding_ivfpq', recall, queries, k, settings, round(mean_ms::numeric, 3)
  FROM gigavector.measure_recall('words_embedding_ivfpq', 100);
\i scripts/dashboard.psql
\x on
SELECT indexrelname, access_method, options, live_entries, dead_ratio, size_bytes, scans,
       tuples_returned, round(mean_ms::numeric, 3) AS mean_ms, round(p50_ms::numeric, 3) AS p50_ms,
       round(p95_ms::numeric, 3) AS p95_ms, round(p99_ms::numeric, 3) AS p99_ms,
       round(recent_qps::numeric, 1) AS recent_qps, last_recall, health, counters_source
  FROM gigavector.index_stats ORDER BY indexrelname;
SQL
}

print_connect() {
    gv_section "the cluster is running"
    echo "connect:  psql -h $SOCKDIR -p $PORT -U $GV_PGUSER $GV_DB"
    echo "stop:     bash scripts/main.sh stop"
    echo "          (or: $(stop_hint))"
    echo "log:      $LOGFILE"
}

# ---------------------------------------------------------------- actions
gv_setup_pguser
locate_gvdata

if [[ "$ACTION" == stop ]]; then
    if [[ -f "$PGDATA_DIR/PG_VERSION" ]] && gv_pg_is_running "$PGDATA_DIR"; then
        gv_pg_stop "$PGDATA_DIR"
        gv_ok "stopped"
    else
        gv_log "no cluster running in $PGDATA_DIR"
    fi
    exit 0
fi

if [[ "$ACTION" == status ]]; then
    if [[ -f "$PGDATA_DIR/PG_VERSION" ]] && gv_pg_is_running "$PGDATA_DIR"; then
        PORT="$(gv_pg_running_port "$PGDATA_DIR")"
        print_connect
    else
        gv_log "not running (data: $PGDATA_DIR)"
        exit 3
    fi
    exit 0
fi

gv_section "dependencies"
gv_install_deps

if [[ "${GV_SKIP_BUILD:-0}" != 1 ]]; then
    gv_section "build and install"
    gv_build_install || gv_die "build/install failed"
fi

gv_section "local cluster"
make_gvdata
if [[ ! -f "$PGDATA_DIR/PG_VERSION" ]]; then
    gv_pg_init "$PGDATA_DIR" || gv_die "initdb failed"
fi
if gv_pg_is_running "$PGDATA_DIR"; then
    PORT="$(gv_pg_running_port "$PGDATA_DIR")"
    [[ "$PORT" == "$GV_PORT" ]] || gv_warn "cluster already runs on port $PORT (GV_PORT=$GV_PORT ignored; stop it to change)"
    gv_log "reusing the running cluster (port $PORT)"
else
    PORT="$GV_PORT"
    gv_check_socket_path "$SOCKDIR" "$PORT" || exit 1
    gv_pg_configure "$PGDATA_DIR" "$SOCKDIR" "$PORT" \
        "maintenance_work_mem = 1GB" "max_wal_size = 4GB" "checkpoint_timeout = 15min" \
        "shared_preload_libraries = 'gigavector'"
    gv_pg_start "$PGDATA_DIR" "$LOGFILE" || exit 1
fi

# The extension's SQL objects are created once per database: when the install scripts
# change (same version during development), start from a fresh database.
ext_hash="$(cat gigavector.control sql/gigavector--*.sql 2>/dev/null | sha256sum | cut -c1-16)"
old_hash="$(cat "$GVDATA/extension.hash" 2>/dev/null || true)"
db_exists="$(sql_value postgres "SELECT count(*) FROM pg_database WHERE datname = '$GV_DB'")"
if [[ "$db_exists" -eq 1 ]]; then
    if [[ "${GV_RESET:-0}" == 1 ]]; then
        gv_log "GV_RESET=1: dropping database $GV_DB"
        sql_value postgres "DROP DATABASE $GV_DB WITH (FORCE)" >/dev/null
    elif [[ -n "$old_hash" && "$old_hash" != "$ext_hash" ]]; then
        gv_log "the extension's SQL scripts changed since the last load: recreating database $GV_DB"
        sql_value postgres "DROP DATABASE $GV_DB WITH (FORCE)" >/dev/null
    fi
fi
if [[ "$(sql_value postgres "SELECT count(*) FROM pg_database WHERE datname = '$GV_DB'")" -eq 0 ]]; then
    gv_log "creating database $GV_DB"
    sql_value postgres "CREATE DATABASE $GV_DB" >/dev/null
fi
psql_db "$GV_DB" -c 'SET client_min_messages = warning' -c 'CREATE EXTENSION IF NOT EXISTS gigavector'
printf '%s\n' "$ext_hash" | gv_as_pguser tee "$GVDATA/extension.hash" >/dev/null

gv_section "data"
load_words
create_indexes
demo_queries
print_stats
print_operations
demo_embeddings
print_connect
