#!/usr/bin/env bash
# The project's test command (CI runs it through .ci/run as root with CI=true).
#
#   scripts/test.sh            everything: fmt, clippy, unit tests, release build, e2e,
#                              and a half-minute smoke run of the benchmarks
#   E2E_ARGS="-k register" scripts/test.sh    extra arguments for pytest
#   SKIP_E2E=1 scripts/test.sh                no e2e tests
#   SKIP_BENCH=1 scripts/test.sh              no benchmark smoke run
#
# Installs what the end-to-end tests need when missing: Debian's sip-tester (SIPp),
# sox, baresip and chromium (as root, or through sudo), and a Python venv at tests/e2e/.venv
# with pytest, numpy, pjsua2-python, websocket-client, sipvicious (the attacker) and
# playwright (it drives the system Chromium: no browser download).
#
# PostgreSQL: the store tests run on SQLite and, when SPYGROUP_TEST_POSTGRES_URL is
# set, on that PostgreSQL server too. Unless it is already set, this script installs
# Debian's postgresql when missing, starts a throwaway cluster in a temp directory
# on a free port of 127.0.0.1 (as the postgres user when run as root), exports
# SPYGROUP_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:PORT/spygroup_test for
# the tests, and stops and deletes the cluster on exit. NO_POSTGRES=1 skips it.
set -uo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
VENV="$ROOT/tests/e2e/.venv"
PY_DEPS=(pytest numpy "pjsua2-python==2.15.1.post1" websocket-client "sipvicious==0.3.8" "playwright==1.65.3")
START=$(date +%s)

declare -a STEP_NAMES=() STEP_RESULTS=() STEP_TIMES=()
FAILED=0

note() { printf '\n==> %s\n' "$*"; }

step() { # step NAME command...
    local name=$1
    shift
    note "$name"
    local t0 rc
    t0=$(date +%s)
    "$@"
    rc=$?
    STEP_NAMES+=("$name")
    STEP_TIMES+=("$(($(date +%s) - t0))s")
    if [ "$rc" -eq 0 ]; then
        STEP_RESULTS+=("ok")
    else
        STEP_RESULTS+=("FAILED (exit $rc)")
        FAILED=1
    fi
    return "$rc"
}

summary() {
    printf '\n==================== summary ====================\n'
    local i
    for i in "${!STEP_NAMES[@]}"; do
        printf '  %-28s %-18s %s\n' "${STEP_NAMES[$i]}" "${STEP_RESULTS[$i]}" "${STEP_TIMES[$i]}"
    done
    printf '  total time: %ss\n' "$(($(date +%s) - START))"
    if [ "$FAILED" -eq 0 ]; then
        echo "  RESULT: all steps passed"
    else
        echo "  RESULT: FAILED"
    fi
}

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        echo "need root to run: $*" >&2
        return 1
    fi
}

install_system_deps() {
    local missing=()
    command -v sipp >/dev/null 2>&1 || missing+=(sip-tester)
    command -v sox >/dev/null 2>&1 || missing+=(sox)
    command -v baresip >/dev/null 2>&1 || missing+=(baresip)
    # The TLS tests make their certificates with openssl.
    command -v openssl >/dev/null 2>&1 || missing+=(openssl)
    # WebRTC builds on Debian's OpenSSL (str0m) and libopus (Opus toward browsers).
    command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
    [ -f /usr/include/openssl/ssl.h ] || missing+=(libssl-dev)
    [ -f /usr/include/opus/opus.h ] || missing+=(libopus-dev)
    # The console's tests drive Debian's Chromium through Playwright (no browser download).
    command -v chromium >/dev/null 2>&1 || missing+=(chromium)
    # The bench's charts (bench/src/suite/plot.rs) read this font at run time.
    [ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing+=(fonts-dejavu-core)
    if [ "${#missing[@]}" -eq 0 ]; then
        echo "sipp, sox, baresip, openssl, libssl-dev, libopus-dev, pkg-config, chromium and fonts-dejavu-core present"
        return 0
    fi
    echo "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get update -qq || return 1
    as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" || return 1
}

pick_python() {
    # The machine's CPython 3.11 (pjsua2-python ships wheels for it).
    local cand
    for cand in python3.11 python3 /usr/bin/python3; do
        if command -v "$cand" >/dev/null 2>&1 &&
            "$cand" -c 'import sys, venv; sys.exit(0 if sys.version_info[:2] >= (3, 9) else 1)' 2>/dev/null; then
            command -v "$cand"
            return 0
        fi
    done
    return 1
}

install_python_deps() {
    if [ -x "$VENV/bin/python" ] &&
        "$VENV/bin/python" -c 'import pytest, numpy, pjsua2, websocket, sipvicious, playwright' 2>/dev/null; then
        echo "venv ready: $VENV"
        return 0
    fi
    local py
    py=$(pick_python) || {
        echo "no python3 found" >&2
        return 1
    }
    echo "creating venv with $py ($("$py" --version 2>&1))"
    if ! "$py" -m venv "$VENV"; then
        # Debian's python3 needs python3-venv for ensurepip
        as_root apt-get update -qq && as_root apt-get install -y -qq --no-install-recommends python3-venv &&
            rm -rf "$VENV" && "$py" -m venv "$VENV" || return 1
    fi
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check "${PY_DEPS[@]}" || return 1
    "$VENV/bin/python" -c 'import pytest, numpy, pjsua2; print("pytest", pytest.__version__, "numpy", numpy.__version__)'
}

# shellcheck source=scripts/postgres.sh
. "$ROOT/scripts/postgres.sh"

test_postgres() {
    if [ -n "${SPYGROUP_TEST_POSTGRES_URL:-}" ]; then
        echo "using the PostgreSQL server in SPYGROUP_TEST_POSTGRES_URL"
        return 0
    fi
    start_postgres spygroup_test || return 1
    export SPYGROUP_TEST_POSTGRES_URL="$PG_URL"
}

cargo_tests() {
    if command -v cargo-nextest >/dev/null 2>&1; then
        # --no-tests=pass: a workspace with no unit tests yet is not an error here;
        # the e2e suite below must run tests or the run fails.
        cargo nextest run --workspace --no-tests=pass --no-fail-fast
    else
        cargo test --workspace
    fi
}

run_e2e() {
    mkdir -p "$ROOT/tests/e2e/out"
    local rc
    # shellcheck disable=SC2086
    (cd "$ROOT" && timeout --signal=TERM --kill-after=30 "${E2E_TIMEOUT:-1200}" \
        "$VENV/bin/python" -m pytest tests/e2e -v --junitxml="$ROOT/tests/e2e/out/junit.xml" ${E2E_ARGS:-})
    rc=$?
    if [ "$rc" -eq 5 ]; then
        echo "pytest collected no tests: that is a failure" >&2
        return 5
    fi
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
        echo "pytest timed out after ${E2E_TIMEOUT:-1200}s" >&2
    fi
    return "$rc"
}

# Half a minute of the benchmark suite (bench/run.sh) on 50 calls: the load tool,
# both PBX scenarios with the paired monitoring windows, and the result files work.
# Not a performance check (a shared CI machine's figures mean nothing): it fails
# only when a scenario cannot carry 50 calls or a key of latest.json is missing.
bench_smoke() {
    # A smoke of the bench, not a measurement: 50 calls must pass. On a shared
    # machine a 1 s window can catch the hypervisor stealing the CPU (the load
    # tool's own lag shows it), so up to three tries; each failed one is printed.
    local out rc try
    for try in 1 2 3; do
        out=$(mktemp -d "${TMPDIR:-/tmp}/spygroup-bench.XXXXXX") || return 1
        (cd "$ROOT" && timeout --signal=TERM 180 target/release/spyload --quick \
            --only relay,monitor --max-calls 50 --window 1 --budget 120 --out "$out")
        rc=$?
        if [ "$rc" -eq 0 ]; then
            python3 - "$out/latest.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
for key in ("relay_capacity_calls", "monitored_capacity_calls"):
    assert d[key] == 50, f"{key} = {d[key]}, expected the 50 calls to pass"
for key in ("monitor_cpu_ratio", "monitor_cpu_ratio_listen_25", "relay_latency_p99_ms",
            "mix_latency_p99_ms", "listen_latency_p99_ms"):
    assert isinstance(d[key], (int, float)) and d[key] > 0, f"{key} = {d[key]}"
print("bench smoke:", {k: d[k] for k in sorted(d) if not isinstance(d[k], dict)})
PY
            rc=$?
        fi
        rm -rf "$out"
        [ "$rc" -eq 0 ] && return 0
        echo "bench smoke: try $try failed; CPU steal now: $(vmstat 1 2 | tail -1 | awk '{print $NF}')%"
    done
    return "$rc"
}

export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
echo "spygroup tests: CI=${CI:-false}, $(nproc) cores, $(cargo --version 2>/dev/null)"

step "install system packages" install_system_deps
step "python venv" install_python_deps
if [ "${NO_POSTGRES:-0}" != "1" ]; then
    # Not in a subshell: the URL must reach the cargo tests below.
    step "postgresql server" test_postgres
fi
step "cargo fmt --check" cargo fmt --all -- --check
step "cargo clippy" cargo clippy --workspace --all-targets -- -D warnings
step "cargo tests" cargo_tests
if step "release build" cargo build --release -p spygroup -p bench; then
    export SPYGROUP_BIN=${SPYGROUP_BIN:-$ROOT/target/release/spygroup}
fi
if [ "${SKIP_E2E:-0}" != "1" ]; then
    step "e2e (pytest tests/e2e)" run_e2e
fi
if [ "${SKIP_BENCH:-0}" != "1" ]; then
    step "bench smoke (50 calls)" bench_smoke
fi

summary
exit "$FAILED"
