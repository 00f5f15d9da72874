#!/usr/bin/env bash
# GigaVector: the one test command.   bash scripts/test.sh [SUITE...]
#
# From a clean clone on a fresh Debian 12 machine: installs missing Debian packages,
# builds and installs the extension (PGXS), builds the C++ core with CMake and runs the
# GoogleTest unit tests (plain, under ASan/UBSan, and under valgrind), then starts a
# throwaway PostgreSQL 15 cluster and runs pg_regress, pgTAP, the shell tests and the
# TAP tests against it. A failing suite does not stop the others; the last line is
# "N passed, N failed" (counting suites) and the exit code is non-zero if any failed.
#
# Suites: build gtest asan valgrind regress pgtap shell tap (default: all).
# Environment:
#   GV_SKIP_INSTALL_DEPS=1   don't check/install Debian packages
#   GV_SKIP_ASAN=1           skip the ASan/UBSan build and its ctest run
#   GV_SKIP_VALGRIND=1       skip valgrind over build/gv_unit_tests
#   GV_VALGRIND_FILTER=...   gtest filter under valgrind (default
#                            '-*avx512*:*Avx512*:*AVX512*:Hnsw.ThreadedBuildKeepsRecall':
#                            valgrind 3.19 cannot execute AVX-512 and hides it from CPUID;
#                            the threaded-recall test repeats twelve builds, ~150 s under
#                            valgrind, and other tests run threaded builds)
#   GV_VALGRIND_TIMEOUT=1200 seconds before the valgrind run is killed
#   GV_KEEP_TMP=1            keep the temporary directory (cluster, logs, diffs)
#   GV_TMPDIR=/tmp           where the temporary directory is made (the unprivileged
#                            user must be able to reach it)
#   GV_JOBS=2                parallel build jobs
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$GV_REPO"

ALL_SUITES=(build gtest asan valgrind regress pgtap shell tap)

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
}

SELECTED=()
for arg in "$@"; do
    case "$arg" in
    -h | --help)
        usage
        exit 0
        ;;
    build | gtest | asan | valgrind | regress | pgtap | shell | tap) SELECTED+=("$arg") ;;
    *)
        gv_err "unknown suite or option: $arg"
        usage >&2
        exit 2
        ;;
    esac
done
[[ ${#SELECTED[@]} -gt 0 ]] || SELECTED=("${ALL_SUITES[@]}")

wanted() {
    local s
    for s in "${SELECTED[@]}"; do [[ "$s" == "$1" ]] && return 0; done
    return 1
}
wants_pg() { wanted build || wanted regress || wanted pgtap || wanted shell || wanted tap; }

# ---------------------------------------------------------------- bookkeeping
RESULT_NAMES=()
RESULT_STATES=() # PASS FAIL SKIP
RESULT_NOTES=()
record() { # record NAME STATE [NOTE]
    RESULT_NAMES+=("$1")
    RESULT_STATES+=("$2")
    RESULT_NOTES+=("${3:-}")
    case "$2" in
    PASS) gv_ok "suite $1: PASS${3:+ ($3)}" ;;
    FAIL) gv_err "suite $1: FAIL${3:+ ($3)}" ;;
    SKIP) gv_warn "suite $1: skipped${3:+ ($3)}" ;;
    esac
}

# run_suite NAME FUNCTION [ARGS...]: runs the function in a subshell with errexit really
# on (it would be ignored inside `if`), and records PASS/FAIL from its exit status.
run_suite() {
    local name="$1" start=$SECONDS rc
    shift
    gv_section "suite: $name"
    set +e
    (
        set -euo pipefail
        "$@"
    )
    rc=$?
    set -e
    if [[ $rc -eq 0 ]]; then
        record "$name" PASS "$((SECONDS - start))s"
    else
        record "$name" FAIL "exit $rc, $((SECONDS - start))s"
    fi
    return 0
}

last_state() { echo "${RESULT_STATES[${#RESULT_STATES[@]} - 1]}"; }

# ---------------------------------------------------------------- temp area and cluster
TMP_ROOT=""
PGDATA_DIR=""
CLUSTER_UP=0

# The cluster is stopped and the temp area removed (unless GV_KEEP_TMP=1) by
# gv_cleanup_tmp_cluster (lib.sh): at the end of the summary (so nothing prints after the
# last line) and, for early exits, from the trap.
cleanup() {
    local rc=$?
    set +e
    gv_cleanup_tmp_cluster
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Temp area readable by the unprivileged user, with a copy of the test inputs
# (the clone may live where that user cannot go, e.g. under /root).
# (Called outside errexit's reach, hence the explicit "|| return 1".)
setup_tmp() {
    [[ -z "$TMP_ROOT" ]] || return 0
    TMP_ROOT="$(mktemp -d "${GV_TMPDIR:-/tmp}/gigavector-test.XXXXXX")" || return 1
    chmod 0755 "$TMP_ROOT" || return 1
    mkdir -p "$TMP_ROOT/src" "$TMP_ROOT/sock" "$TMP_ROOT/regress" "$TMP_ROOT/shell" "$TMP_ROOT/tap" || return 1
    local d
    # (scripts/: the loopback HTTP helpers test/scripts/embedding_mock.py imports)
    for d in sql expected input output data test scripts; do
        if [[ -d "$GV_REPO/$d" ]]; then cp -a "$GV_REPO/$d" "$TMP_ROOT/src/" || return 1; fi
    done
    if gv_is_root; then chown -R "$GV_PGUSER:" "$TMP_ROOT" || return 1; fi
    chmod 0700 "$TMP_ROOT/sock" || return 1
    TEST_SRC="$TMP_ROOT/src"
}

start_cluster() {
    PG_SOCK="$TMP_ROOT/sock"
    PG_PORT="$(gv_find_free_port 54320)" || return 1
    gv_check_socket_path "$PG_SOCK" "$PG_PORT" || return 1
    PGDATA_DIR="$TMP_ROOT/data"
    gv_pg_init "$PGDATA_DIR" || return 1
    gv_pg_configure "$PGDATA_DIR" "$PG_SOCK" "$PG_PORT" \
        "fsync = off" "synchronous_commit = off" "full_page_writes = off" \
        "max_wal_size = 2GB" "log_min_messages = warning" || return 1
    gv_pg_start "$PGDATA_DIR" "$TMP_ROOT/postgres.log" || return 1
    CLUSTER_UP=1
    gv_ok "throwaway cluster up: socket $PG_SOCK, port $PG_PORT, superuser $GV_PGUSER"
}

# Run a command as the unprivileged user with the cluster's connection settings.
pg_env() {
    gv_as_pguser env PATH="$GV_PGBIN:$PATH" PGHOST="$PG_SOCK" PGPORT="$PG_PORT" \
        PGUSER="$GV_PGUSER" PGDATABASE=postgres "$@"
}
pg_psql() { pg_env psql -X -q -v ON_ERROR_STOP=1 "$@"; }

# ---------------------------------------------------------------- suites
suite_build() {
    gv_build_install
}

suite_gtest() {
    cmake -S "$GV_REPO" -B "$GV_REPO/build" -DGV_BUILD_PG=OFF
    cmake --build "$GV_REPO/build" -j"$GV_JOBS"
    ctest --test-dir "$GV_REPO/build" --output-on-failure --no-tests=error -j"$GV_JOBS"
}

suite_asan() {
    cmake -S "$GV_REPO" -B "$GV_REPO/build-asan" -DGV_SANITIZE=ON -DGV_BUILD_PG=OFF -DGV_BUILD_BENCH=OFF
    cmake --build "$GV_REPO/build-asan" -j"$GV_JOBS"
    ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:strict_string_checks=1:detect_stack_use_after_return=1" \
        UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
        ctest --test-dir "$GV_REPO/build-asan" --output-on-failure --no-tests=error -j"$GV_JOBS"
}

suite_valgrind() {
    local filter="${GV_VALGRIND_FILTER--*avx512*:*Avx512*:*AVX512*:Hnsw.ThreadedBuildKeepsRecall}"
    # Incremental: a no-op when the gtest suite has just built it.
    if [[ ! -f "$GV_REPO/build/CMakeCache.txt" ]]; then
        cmake -S "$GV_REPO" -B "$GV_REPO/build" -DGV_BUILD_PG=OFF
    fi
    cmake --build "$GV_REPO/build" -j"$GV_JOBS" --target gv_unit_tests
    gv_log "valgrind (filter '$filter'; valgrind cannot run AVX-512; the threaded recall test is ASan's)"
    timeout "${GV_VALGRIND_TIMEOUT:-1200}" valgrind --error-exitcode=1 --leak-check=full \
        "$GV_REPO/build/gv_unit_tests" --gtest_filter="$filter"
}

suite_regress() {
    local tests opts
    tests="$(gv_make_var REGRESS)"
    opts="$(gv_make_var REGRESS_OPTS)"
    # shellcheck disable=SC2206 # word splitting of the Makefile lists is intended
    local tests_a=($tests) opts_a=($opts)
    [[ ${#tests_a[@]} -gt 0 ]] || { gv_err "no REGRESS tests in the Makefile"; return 1; }
    gv_log "pg_regress: ${tests_a[*]}"
    local absent=0 t
    for t in "${tests_a[@]}"; do
        [[ -f "$TEST_SRC/sql/$t.sql" ]] || { gv_err "missing sql/$t.sql"; absent=1; }
        [[ -f "$TEST_SRC/expected/$t.out" ]] || { gv_err "missing expected/$t.out"; absent=1; }
    done
    [[ $absent -eq 0 ]] || return 1
    # As `make installcheck` does: REGRESS_OPTS (with PGXS's --dbname) first, ours after
    # them (the last option wins). No --use-existing: with it pg_regress would not create
    # the test database (with template0 and its lc_*/bytea_output settings) itself.
    if ! pg_env "$GV_PG_REGRESS" "${opts_a[@]}" --bindir="$GV_PGBIN" \
        --host="$PG_SOCK" --port="$PG_PORT" --user="$GV_PGUSER" \
        --inputdir="$TEST_SRC" --outputdir="$TMP_ROOT/regress" "${tests_a[@]}"; then
        if [[ -f "$TMP_ROOT/regress/regression.diffs" ]]; then
            gv_err "regression.diffs (first 1000 lines):"
            head -n 1000 "$TMP_ROOT/regress/regression.diffs"
        fi
        return 1
    fi
}

suite_pgtap() {
    local files=()
    shopt -s nullglob
    files=("$TEST_SRC"/test/pgtap/*.sql)
    shopt -u nullglob
    local db=gv_pgtap
    pg_env createdb "$db"
    pg_psql -d "$db" -c 'CREATE EXTENSION pgtap' -c 'CREATE EXTENSION gigavector'
    pg_env pg_prove --host "$PG_SOCK" --port "$PG_PORT" --username "$GV_PGUSER" --dbname "$db" \
        --psql-bin "$GV_PGBIN/psql" --failures --timer "${files[@]}"
}

suite_shell() { # suite_shell SCRIPT
    local script="$1" name work
    name="$(basename "$script" .sh)"
    work="$TMP_ROOT/shell/$name"
    gv_as_pguser mkdir -p "$work"
    (cd "$work" && pg_env GV_TEST_SRC="$TEST_SRC" GV_TEST_TMP="$work" TMPDIR="$work" \
        GV_TEST_SERVER_LOG="$TMP_ROOT/postgres.log" \
        bash "$script")
}

suite_tap() {
    local files=()
    shopt -s nullglob
    files=("$TEST_SRC"/test/t/*.pl)
    shopt -u nullglob
    # PostgreSQL::Test::Utils writes logs and data under $TESTDIR/tmp_check; Cluster.pm
    # runs initdb/postgres/pg_ctl from PATH and pg_regress from $PG_REGRESS.
    local rc=0
    (cd "$TEST_SRC" && gv_as_pguser env -u PGHOST -u PGPORT -u PGUSER -u PGDATABASE \
        PATH="$GV_PGBIN:$PATH" PG_REGRESS="$GV_PG_REGRESS" TESTDIR="$TMP_ROOT/tap" \
        PG_TEST_PORT_DIR="$TMP_ROOT/tap" TMPDIR="$TMP_ROOT/tap" \
        prove -I "$GV_TAP_PERL_LIB" -I "$TEST_SRC/test/t" "${files[@]}") || rc=$?
    if [[ $rc -ne 0 && -d "$TMP_ROOT/tap/tmp_check/log" ]]; then
        local f
        for f in "$TMP_ROOT"/tap/tmp_check/log/regress_log_*; do
            gv_err "---- tail of $f"
            tail -n 60 "$f"
        done
        # the servers' own logs: crashes, PANICs and failed recoveries show there
        for f in "$TMP_ROOT"/tap/tmp_check/log/*.log; do
            grep -qE 'terminated by signal|PANIC|TRAP|startup process|FATAL' "$f" 2>/dev/null || continue
            gv_err "---- server log $f (lines around failures)"
            grep -nE -B3 -A8 'terminated by signal|PANIC|TRAP|startup process|FATAL' "$f" | tail -n 120
        done
    fi
    return $rc
}

# ---------------------------------------------------------------- main
T0=$SECONDS
gv_section "GigaVector tests: ${SELECTED[*]}"
gv_install_deps

BUILD_OK=1
if wants_pg; then
    run_suite build suite_build
    [[ "$(last_state)" == PASS ]] || BUILD_OK=0
fi

wanted gtest && run_suite gtest suite_gtest

if wanted regress || wanted pgtap || wanted shell || wanted tap; then
    gv_setup_pguser
    if [[ $BUILD_OK -eq 1 ]] && { wanted regress || wanted pgtap || wanted shell; }; then
        gv_section "throwaway cluster"
        if ! { setup_tmp && start_cluster; }; then gv_err "could not start the throwaway cluster"; fi
    fi
    pg_blocked() { # reason why PG suites cannot run, or empty
        if [[ $BUILD_OK -ne 1 ]]; then
            echo "not run: extension build/install failed"
        elif [[ $CLUSTER_UP -ne 1 ]]; then echo "not run: cluster did not start"; fi
    }

    if wanted regress; then
        if [[ -n "$(pg_blocked)" ]]; then record regress FAIL "$(pg_blocked)"; else run_suite regress suite_regress; fi
    fi

    if wanted pgtap; then
        if ! compgen -G "$GV_REPO/test/pgtap/*.sql" >/dev/null; then
            record pgtap SKIP "no test/pgtap/*.sql files"
        elif [[ -n "$(pg_blocked)" ]]; then
            record pgtap FAIL "$(pg_blocked)"
        else run_suite pgtap suite_pgtap; fi
    fi

    if wanted shell; then
        shopt -s nullglob
        shell_tests=("$GV_REPO"/test/scripts/*.sh)
        shopt -u nullglob
        [[ ${#shell_tests[@]} -gt 0 ]] || record shell SKIP "no test/scripts/*.sh files"
        for st in "${shell_tests[@]}"; do
            name="shell:$(basename "$st" .sh)"
            if [[ -n "$(pg_blocked)" ]]; then
                record "$name" FAIL "$(pg_blocked)"
            else
                run_suite "$name" suite_shell "$TEST_SRC/test/scripts/$(basename "$st")"
            fi
        done
    fi

    if wanted tap; then
        if ! compgen -G "$GV_REPO/test/t/*.pl" >/dev/null; then
            record tap SKIP "no test/t/*.pl files"
        elif [[ $BUILD_OK -ne 1 ]]; then
            record tap FAIL "not run: extension build/install failed"
        else
            if setup_tmp; then run_suite tap suite_tap; else record tap FAIL "could not set up $TMP_ROOT"; fi
        fi
    fi
fi

if wanted valgrind; then
    if [[ "${GV_SKIP_VALGRIND:-0}" == 1 ]]; then
        record valgrind SKIP "GV_SKIP_VALGRIND=1"
    elif ! command -v valgrind >/dev/null 2>&1; then
        record valgrind FAIL "valgrind is not installed"
    else run_suite valgrind suite_valgrind; fi
fi

if wanted asan; then
    if [[ "${GV_SKIP_ASAN:-0}" == 1 ]]; then
        record asan SKIP "GV_SKIP_ASAN=1"
    else run_suite asan suite_asan; fi
fi

# ---------------------------------------------------------------- summary
passed=0 failed=0 skipped=0
gv_section "summary ($((SECONDS - T0))s)"
for i in "${!RESULT_NAMES[@]}"; do
    printf '  %-4s  %-28s %s\n' "${RESULT_STATES[$i]}" "${RESULT_NAMES[$i]}" "${RESULT_NOTES[$i]}"
    case "${RESULT_STATES[$i]}" in
    PASS) passed=$((passed + 1)) ;;
    FAIL) failed=$((failed + 1)) ;;
    SKIP) skipped=$((skipped + 1)) ;;
    esac
done
[[ $skipped -eq 0 ]] || echo "  ($skipped suite(s) skipped, not counted)"
# Stop the cluster now, so that nothing prints after the last line.
gv_cleanup_tmp_cluster 2>&1
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
