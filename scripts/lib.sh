# shellcheck shell=bash disable=SC2034  # (constants are used by the scripts that source this file)
# Shared by scripts/main.sh and scripts/test.sh: the Debian package list,
# logging, privilege handling, the PGXS build and the life cycle of a local
# PostgreSQL 15 cluster run by an unprivileged OS user. Source it; don't run it.

if [[ -n "${GV_LIB_SOURCED:-}" ]]; then
    return 0
fi
GV_LIB_SOURCED=1

GV_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
GV_PG_MAJOR=15
GV_PGBIN="/usr/lib/postgresql/$GV_PG_MAJOR/bin"
GV_PG_CONFIG="$GV_PGBIN/pg_config"
GV_PGXS_DIR="/usr/lib/postgresql/$GV_PG_MAJOR/lib/pgxs"
GV_PG_REGRESS="$GV_PGXS_DIR/src/test/regress/pg_regress"
GV_TAP_PERL_LIB="$GV_PGXS_DIR/src/test/perl"
GV_JOBS="${GV_JOBS:-2}"
# OS user that runs the server when the scripts run as root (Postgres refuses root).
GV_PGUSER_DEFAULT="gvtest"

# Everything a fresh Debian 12 machine needs to build, run and test GigaVector.
# python3 is needed by scripts/main.sh (fvecs -> COPY conversion, the embedding demo server);
# openssl makes the TLS test's certificate; ca-certificates lets gigavector.embed verify real
# providers.
GV_DEBIAN_PACKAGES=(
    build-essential g++ cmake make pkg-config python3
    postgresql-15 postgresql-server-dev-15 postgresql-15-pgtap libtap-parser-sourcehandler-pgtap-perl
    libcurl4-openssl-dev libeigen3-dev libgtest-dev libbenchmark-dev
    libipc-run-perl valgrind clang-format openssl ca-certificates
)

# gv_cleanup_tmp_cluster: stops the throwaway cluster in $PGDATA_DIR and removes the
# temp area $TMP_ROOT (kept with GV_KEEP_TMP=1), then clears both; for scripts that
# make one (test.sh, bench/tune_curve.sh). Safe to call twice.
gv_cleanup_tmp_cluster() {
    if [[ -n "${PGDATA_DIR:-}" && -d "$PGDATA_DIR" ]]; then
        gv_pg_stop "$PGDATA_DIR" || gv_warn "could not stop the cluster in $PGDATA_DIR"
    fi
    PGDATA_DIR=""
    if [[ -n "${TMP_ROOT:-}" && -d "$TMP_ROOT" ]]; then
        if [[ "${GV_KEEP_TMP:-0}" == 1 ]]; then
            gv_log "GV_KEEP_TMP=1: kept $TMP_ROOT (cluster log: $TMP_ROOT/postgres.log)"
        else
            rm -rf -- "$TMP_ROOT"
        fi
    fi
    TMP_ROOT=""
}

# ---------------------------------------------------------------- logging
if [[ -t 1 ]]; then
    _gv_bold=$'\033[1m' _gv_red=$'\033[31m' _gv_yellow=$'\033[33m' _gv_green=$'\033[32m' _gv_off=$'\033[0m'
else
    _gv_bold='' _gv_red='' _gv_yellow='' _gv_green='' _gv_off=''
fi
gv_log() { printf '%s==>%s %s\n' "$_gv_bold" "$_gv_off" "$*"; }
gv_ok() { printf '%s==> %s%s\n' "$_gv_green" "$*" "$_gv_off"; }
gv_warn() { printf '%sWARNING:%s %s\n' "$_gv_yellow" "$_gv_off" "$*" >&2; }
gv_err() { printf '%sERROR:%s %s\n' "$_gv_red" "$_gv_off" "$*" >&2; }
gv_die() {
    gv_err "$*"
    exit 1
}
gv_section() {
    printf '\n%s======== %s ========%s\n' "$_gv_bold" "$*" "$_gv_off"
}

# ---------------------------------------------------------------- privileges
gv_is_root() { [[ "$(id -u)" -eq 0 ]]; }

# Run a command as root: directly when we are root, else through sudo.
gv_as_root() {
    if gv_is_root; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        gv_err "need root for: $* (not root and sudo is not installed)"
        return 1
    fi
}

# ---------------------------------------------------------------- Debian packages
gv_pkg_installed() {
    dpkg -s "$1" 2>/dev/null | grep -q '^Status: install ok installed$'
}

# Install the packages of GV_DEBIAN_PACKAGES that are missing (GV_SKIP_INSTALL_DEPS=1 skips).
gv_install_deps() {
    if [[ "${GV_SKIP_INSTALL_DEPS:-0}" == 1 ]]; then
        gv_log "GV_SKIP_INSTALL_DEPS=1: not checking Debian packages"
        return 0
    fi
    if ! command -v dpkg >/dev/null 2>&1; then
        gv_warn "dpkg not found: not a Debian system, not installing packages"
        return 0
    fi
    local missing=() p
    for p in "${GV_DEBIAN_PACKAGES[@]}"; do
        gv_pkg_installed "$p" || missing+=("$p")
    done
    if [[ ${#missing[@]} -eq 0 ]]; then
        gv_log "Debian packages: all ${#GV_DEBIAN_PACKAGES[@]} present"
        return 0
    fi
    gv_log "installing missing Debian packages: ${missing[*]}"
    gv_as_root env DEBIAN_FRONTEND=noninteractive apt-get update
    gv_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
}

# ---------------------------------------------------------------- build
# PGXS build + install of the extension (make install needs root: sudo if not root).
gv_build_install() {
    gv_log "PGXS build: make -j$GV_JOBS"
    make -C "$GV_REPO" -j"$GV_JOBS" PG_CONFIG="$GV_PG_CONFIG" || return 1
    gv_log "PGXS install: make install"
    gv_as_root make -C "$GV_REPO" install PG_CONFIG="$GV_PG_CONFIG" || return 1
}

# Print the value of a variable of the repository Makefile (e.g. REGRESS).
# Asks make itself (so continuations and += work); falls back to a plain parse.
gv_make_var() {
    local name="$1" out
    # shellcheck disable=SC2016 # $($*) is for make, not the shell
    if out="$(make -s --no-print-directory -C "$GV_REPO" PG_CONFIG="$GV_PG_CONFIG" \
        --eval '__gv_print_var-%: ; @printf "%s\n" "$($*)"' "__gv_print_var-$name" 2>/dev/null)"; then
        printf '%s\n' "$out"
        return 0
    fi
    sed -e ':a' -e '/\\$/N; s/\\\n/ /; ta' "$GV_REPO/Makefile" |
        sed -n "s/^[[:space:]]*${name}[[:space:]]*[:+]\{0,1\}=[[:space:]]*//p" | tr '\n' ' '
    echo
}

# ---------------------------------------------------------------- the unprivileged user
# Sets GV_PGUSER: "gvtest" (created if missing) when we are root, else the current user.
gv_setup_pguser() {
    if gv_is_root; then
        GV_PGUSER="${GV_PGUSER:-$GV_PGUSER_DEFAULT}"
        if ! id -u "$GV_PGUSER" >/dev/null 2>&1; then
            gv_log "creating system user $GV_PGUSER to run PostgreSQL (it refuses to run as root)"
            useradd --system --user-group --create-home --home-dir "/var/lib/$GV_PGUSER" \
                --shell /bin/bash --comment "GigaVector test clusters" "$GV_PGUSER"
        fi
    else
        GV_PGUSER="$(id -un)"
    fi
    export GV_PGUSER
    # Can that user reach the clone? (Not if it lives under /root, say.)
    GV_PGUSER_SEES_REPO=1
    gv_pguser_can_read "$GV_REPO" || GV_PGUSER_SEES_REPO=0
}

# Run a command as GV_PGUSER (runuser when root, directly otherwise).
# The environment is passed on; runuser resets only HOME/SHELL/USER/LOGNAME.
gv_as_pguser() {
    if gv_is_root && [[ "$GV_PGUSER" != root ]]; then
        if [[ "${GV_PGUSER_SEES_REPO:-1}" == 0 && "$PWD/" == "$GV_REPO/"* ]]; then
            # Start from a directory that user may enter (pg_ctl & co. complain otherwise).
            (cd / && runuser -u "$GV_PGUSER" -- "$@")
        else
            runuser -u "$GV_PGUSER" -- "$@"
        fi
    else
        "$@"
    fi
}

# True if GV_PGUSER can reach (traverse/read) the given path.
gv_pguser_can_read() {
    gv_as_pguser test -r "$1" -a -x "$1" 2>/dev/null
}

# ---------------------------------------------------------------- cluster
# First TCP port >= $1 that nothing on 127.0.0.1 accepts connections on.
gv_find_free_port() {
    local port="${1:-54320}" last=$((${1:-54320} + 500))
    while ((port < last)); do
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return 0
        fi
        port=$((port + 1))
    done
    gv_err "no free TCP port in ${1:-54320}..$last"
    return 1
}

# gv_pg_init DATADIR [SUPERUSER]: initdb as GV_PGUSER (trust auth; the socket directory
# is private to that user, and the server does not listen on TCP).
gv_pg_init() {
    local datadir="$1" superuser="${2:-$GV_PGUSER}"
    gv_log "initdb $datadir"
    gv_as_pguser "$GV_PGBIN/initdb" -D "$datadir" -U "$superuser" --auth=trust \
        --encoding=UTF8 --locale=C --no-sync >/dev/null || return 1
    # Settings that survive restarts; the port/socket live in gigavector.conf (rewritten per start).
    gv_as_pguser tee -a "$datadir/postgresql.conf" >/dev/null <<'EOF'

# ---- GigaVector local cluster ----
include_if_exists = 'gigavector.conf'
EOF
}

# gv_pg_configure DATADIR SOCKDIR PORT [EXTRA_SETTINGS...]: (re)write DATADIR/gigavector.conf
gv_pg_configure() {
    local datadir="$1" sockdir="$2" port="$3"
    shift 3
    {
        echo "# written by scripts/lib.sh (gv_pg_configure); rewritten at every start"
        echo "listen_addresses = ''"
        echo "port = $port"
        echo "unix_socket_directories = '$sockdir'"
        echo "unix_socket_permissions = 0700"
        echo "shared_buffers = 256MB"
        echo "max_connections = 50"
        echo "dynamic_shared_memory_type = posix"
        echo "log_line_prefix = '%m [%p] %q%u@%d '"
        echo "lc_messages = 'C'"
        local s
        for s in "$@"; do echo "$s"; done
    } | gv_as_pguser tee "$datadir/gigavector.conf" >/dev/null
}

gv_pg_is_running() {
    gv_as_pguser "$GV_PGBIN/pg_ctl" -D "$1" status >/dev/null 2>&1
}

# gv_pg_start DATADIR LOGFILE
gv_pg_start() {
    local datadir="$1" logfile="$2"
    gv_log "starting PostgreSQL $GV_PG_MAJOR (data $datadir, log $logfile)"
    if ! gv_as_pguser "$GV_PGBIN/pg_ctl" -D "$datadir" -l "$logfile" -w -t 120 start >/dev/null; then
        gv_err "PostgreSQL did not start; last lines of $logfile:"
        tail -n 30 "$logfile" >&2 || true
        return 1
    fi
}

# gv_pg_stop DATADIR
gv_pg_stop() {
    local datadir="$1"
    if gv_pg_is_running "$datadir"; then
        gv_log "stopping PostgreSQL ($datadir)"
        gv_as_pguser "$GV_PGBIN/pg_ctl" -D "$datadir" -m fast -w -t 60 stop >/dev/null ||
            gv_as_pguser "$GV_PGBIN/pg_ctl" -D "$datadir" -m immediate -w -t 30 stop >/dev/null
    fi
}

# Port of a running cluster, from postmaster.pid (line 4).
gv_pg_running_port() {
    sed -n 4p "$1/postmaster.pid" 2>/dev/null
}

# gv_check_socket_path SOCKDIR PORT: the Unix socket path must fit sun_path (107 bytes).
gv_check_socket_path() {
    local path="$1/.s.PGSQL.$2"
    if ((${#path} > 100)); then
        gv_err "socket path too long for a Unix socket (${#path} > 100 bytes): $path"
        return 1
    fi
}

# ---------------------------------------------------------------- benchmarks
# Connection defaults of the bench/*.sh wrappers: the usual libpq variables
# when set, else the main job's cluster (bash scripts/main.sh), which runs
# Postgres as $GV_PGUSER_DEFAULT when it was started by root. Pass
# --no-database for a script that picks its own database.
gv_bench_connection() {
    export PGHOST="${PGHOST:-$GV_REPO/.gvdata/run}" PGPORT="${PGPORT:-${GV_PORT:-5499}}"
    if [[ "${1:-}" != --no-database ]]; then
        export PGDATABASE="${PGDATABASE:-gigavector}"
    fi
    if gv_is_root; then
        export PGUSER="${PGUSER:-$GV_PGUSER_DEFAULT}"
    fi
}
