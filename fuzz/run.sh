#!/usr/bin/env bash
# Runs the fuzz targets one after another, each for SECONDS (default 600), at low
# priority and with one job, keeping going after a crash so one run finds all it
# can. Findings land in fuzz/artifacts/<target>/; logs in fuzz/logs/<target>.log.
#
#   fuzz/run.sh                  # every target, 10 minutes each
#   fuzz/run.sh 60 sdp expr      # two targets, a minute each
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-600}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(sip_message sdp rtp srtp dialplan expr)
fi
mkdir -p logs
nice -n 19 cargo +nightly fuzz build
for t in "${targets[@]}"; do
    echo "== $t for ${secs}s (log: fuzz/logs/$t.log)"
    # -timeout: an input taking 5 s is a finding; -rss_limit_mb: so is 2 GB.
    nice -n 19 cargo +nightly fuzz run "$t" -- \
        -max_total_time="$secs" -timeout=5 -rss_limit_mb=2048 \
        -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
        >"logs/$t.log" 2>&1 || true
    tail -n 3 "logs/$t.log"
    ls "artifacts/$t" 2>/dev/null | sed 's/^/   finding: /' || true
done
