#!/usr/bin/env bash
# Overload: spygroup with --max-calls N carries N calls (G.711 both ways) while the
# tool keeps N more calls trying at once. Passes when the established calls stay
# clean (loss < 0.1%, jitter p99 < 10 ms), every extra call gets 503, and the PBX
# answers it within 10 ms (p99, from the INVITE with credentials).
#   bench/overload.sh        N = 200
#   bench/overload.sh 600    N = 600 (use what bench/run.sh measured as capacity)
# Add --pin to pin the PBX and the tool to one core each. All traffic on 127.0.0.1.
# Results: bench/results/overload-<epoch>.json.
set -euo pipefail
cd "$(dirname "$0")/.."
cap=${1:-200}
shift || true
cargo build --release -q -p spygroup -p bench
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
timeout --signal=TERM 300 target/release/spyload \
  --spygroup target/release/spygroup \
  --dialplan bench/dialplan.conf \
  --out bench/results \
  --overload "$cap" "$@"
