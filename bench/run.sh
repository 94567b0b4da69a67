#!/usr/bin/env bash
# spygroup benchmarks: capacity, monitoring overhead, call setup rate, latency,
# memory per call, and the same RTP load through a minimal UDP relay.
#   bench/run.sh            full run (< 10 minutes)
#   bench/run.sh --quick    short run (< 2 minutes)
# Extra arguments go to spyload (see `target/release/spyload --help`).
# All traffic stays on 127.0.0.1; every step is bounded in time and call count.
set -euo pipefail
cd "$(dirname "$0")/.."

quick=()
args=()
for a in "$@"; do
  case "$a" in
    --quick) quick=(--quick) ;;
    *) args+=("$a") ;;
  esac
done

cargo build --release -q -p spygroup -p bench

# each call holds 2 sockets in the tool and up to 4 in the PBX
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

budget=570
[ ${#quick[@]} -gt 0 ] && budget=110
exec timeout --signal=TERM $((budget + 60)) target/release/spyload \
  --spygroup target/release/spygroup \
  --minirelay target/release/minirelay \
  --dialplan bench/dialplan.conf \
  --out bench/results \
  --budget "$budget" \
  "${quick[@]}" "${args[@]}"
