# scripts/common.sh -- shell helpers shared by test/run-all and demo/run:
# output helpers, running as root, installing the Debian packages durable
# needs, and building + installing the extension with PGXS.
#
# The caller sets REPO (the repository root) before sourcing this file.

PG_MAJOR=15
PGBIN=/usr/lib/postgresql/$PG_MAJOR/bin
PG_CONFIG=$PGBIN/pg_config
export PATH="$PGBIN:$PATH"
export DEBIAN_FRONTEND=noninteractive
IS_ROOT=0
[ "$(id -u)" -eq 0 ] && IS_ROOT=1

header() {
    printf '\n'
    printf '=%.0s' {1..72}; printf '\n'
    printf '== %s\n' "$*"
    printf '=%.0s' {1..72}; printf '\n'
}

info() { printf -- '-- %s\n' "$*"; }

warn() { printf -- '!! %s\n' "$*" >&2; }

have() { command -v "$1" >/dev/null 2>&1; }

as_root() {
    if [ "$IS_ROOT" -eq 1 ]; then
        "$@"
    elif have sudo; then
        sudo env PATH="$PATH" DEBIAN_FRONTEND=noninteractive "$@"
    else
        # No sudo: try anyway (works for user-owned PostgreSQL installs).
        "$@" || { warn "failed without root: $*  (run as root or install sudo)"; return 1; }
    fi
}

pkg_installed() {
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]
}

install_packages() {
    header "packages"
    if [ "${DURABLE_SKIP_APT:-0}" = 1 ]; then info "DURABLE_SKIP_APT=1, not checking"; return 0; fi
    if ! have dpkg-query; then info "no dpkg; assuming the toolchain is installed"; return 0; fi

    local want=("postgresql-$PG_MAJOR" "postgresql-server-dev-$PG_MAJOR"
                "postgresql-$PG_MAJOR-cron" "postgresql-$PG_MAJOR-pgtap"
                libipc-run-perl libtap-parser-sourcehandler-pgtap-perl
                # the exporter suite: a real postgres_exporter (its service is
                # not used: the test starts its own on a free port)
                prometheus-postgres-exporter)
    local missing=() p
    if ! pkg_installed build-essential && ! { have gcc && have make; }; then
        missing+=(build-essential)
    fi
    for p in "${want[@]}"; do pkg_installed "$p" || missing+=("$p"); done
    # the conformance suite's minimal worker (test/conformance/minimal_worker.py)
    have python3 || missing+=(python3)
    if [ -d "$REPO/sdk/python" ]; then
        # the Python SDK: Debian's psycopg 3, a venv (pip comes with it) and
        # setuptools + wheel, which its build takes from the system Python;
        # prometheus_client for its worker metrics (optional at run time,
        # tested by tests/e2e/test_worker_metrics.py)
        for p in python3-psycopg python3-venv python3-setuptools python3-wheel python3-prometheus-client; do
            pkg_installed "$p" || missing+=("$p")
        done
    fi
    if [ -d "$REPO/sdk/typescript" ]; then
        # node/npm may come from elsewhere (nodesource bundles npm in nodejs)
        have node || missing+=(nodejs)
        have npm || missing+=(npm)
        if [ ${#missing[@]} -gt 0 ] && ! pkg_installed ca-certificates; then
            missing+=(ca-certificates)     # npm registry is https
        fi
    fi

    if [ -f "$REPO/ui/package.json" ]; then
        # the Web UI's browser test drives Debian's chromium (puppeteer-core)
        pkg_installed chromium || missing+=(chromium)
    fi

    if [ ${#missing[@]} -eq 0 ]; then info "all required packages present"; return 0; fi
    info "missing: ${missing[*]}"
    if [ "$IS_ROOT" -ne 1 ] && ! have sudo; then
        warn "missing packages (${missing[*]}) and not root / no sudo: install them first"
        return 1
    fi
    local log
    log=$(mktemp /tmp/durable-apt.XXXXXX)
    if as_root apt-get update -qq >"$log" 2>&1 &&
       as_root apt-get install -y -qq --no-install-recommends \
           -o Dpkg::Use-Pty=0 "${missing[@]}" >>"$log" 2>&1; then
        info "packages installed"
        rm -f "$log"
        return 0
    fi
    warn "apt-get failed:"
    cat "$log" >&2
    rm -f "$log"
    return 1
}

build_and_install() {
    header "build + install"
    if [ ! -x "$PG_CONFIG" ]; then
        warn "$PG_CONFIG not found (postgresql-server-dev-$PG_MAJOR missing?)"
        return 1
    fi
    info "make PG_CONFIG=$PG_CONFIG"
    if ! make -C "$REPO" -j"$(nproc 2>/dev/null || echo 2)" PG_CONFIG="$PG_CONFIG"; then
        warn "build failed"
        return 1
    fi
    if [ "${DURABLE_NO_INSTALL:-0}" = 1 ]; then
        info "DURABLE_NO_INSTALL=1: skipping make install"
        return 0
    fi
    info "make install"
    if ! as_root make -C "$REPO" PG_CONFIG="$PG_CONFIG" install >/dev/null; then
        warn "make install failed"
        return 1
    fi
    info "installed into $("$PG_CONFIG" --pkglibdir) / $("$PG_CONFIG" --sharedir)/extension"
    return 0
}
