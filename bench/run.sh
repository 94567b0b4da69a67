#!/usr/bin/env bash
# spygroup benchmarks: capacity, monitoring overhead, call setup rate, latency,
# memory per call, and the same RTP load through a minimal UDP relay.
#   bench/run.sh            full run (< 10 minutes)
#   bench/run.sh --quick    short run (< 2 minutes)
#   bench/run.sh --pinned   per core: spygroup and the minimal relay on CPU 0, the
#                           load tool on CPU 1, in turn, 3 rounds (about 13 minutes;
#                           --rounds N); results in bench/results/<stamp>-pinned.*
# Extra arguments go to spyload (see `target/release/spyload --help`).
# All traffic stays on 127.0.0.1; every step is bounded in time and call count.
# The call set-up rate is measured on SQLite and, in the same run, on PostgreSQL: a
# throwaway server is started (scripts/postgres.sh) unless SPYGROUP_BENCH_POSTGRES_URL
# names an empty database; NO_POSTGRES=1 measures SQLite only.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}
# shellcheck source=../scripts/postgres.sh
. scripts/postgres.sh

quick=()
args=()
pinned=0
for a in "$@"; do
  case "$a" in
    --quick) quick=(--quick) ;;
    --pinned) pinned=1; args+=("$a") ;;
    *) args+=("$a") ;;
  esac
done

cargo build --release -q -p spygroup -p bench

# each call holds 2 sockets in the tool and up to 4 in the PBX
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# The per-core run measures the set-up rate on SQLite only.
if [ "$pinned" = 0 ] && [ -z "${SPYGROUP_BENCH_POSTGRES_URL:-}" ] && [ "${NO_POSTGRES:-0}" != "1" ]; then
  if start_postgres spygroup_bench >&2; then
    export SPYGROUP_BENCH_POSTGRES_URL="$PG_URL"
  else
    echo "no PostgreSQL server: the set-up rate is measured on SQLite only" >&2
  fi
fi

budget=630
[ ${#quick[@]} -gt 0 ] && budget=130
[ "$pinned" = 1 ] && budget=3000
rc=0
timeout --signal=TERM $((budget + 60)) target/release/spyload \
  --spygroup target/release/spygroup \
  --minirelay target/release/minirelay \
  --dialplan bench/dialplan.conf \
  --out bench/results \
  --budget "$budget" \
  "${quick[@]}" "${args[@]}"  || rc=$?
exit "$rc"
