#!/usr/bin/env bash
# The soak: many short calls through one spygroup, every fourth listened to by a
# supervisor (ChanSpy), with the PBX's RSS, open files and sockets sampled every
# 10% and after the last call. A leak shows as growth after warm-up, sockets left
# over, or calls still counted by /health at the end.
#   bench/soak.sh            10,000 calls at 50 a second (about 4 minutes)
#   bench/soak.sh 2000 100   2,000 calls at 100 a second
# All traffic stays on 127.0.0.1. Results: bench/results/soak-<epoch>.json.
set -euo pipefail
cd "$(dirname "$0")/.."
calls=${1:-10000}
cps=${2:-50}
cargo build --release -q -p spygroup -p bench
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
budget=$(( calls / ${cps%.*} + 120 ))
timeout --signal=TERM $((budget + 60)) target/release/spyload \
  --spygroup target/release/spygroup \
  --dialplan bench/dialplan.conf \
  --out bench/results \
  --budget "$budget" \
  --soak "$calls" --soak-cps "$cps"
