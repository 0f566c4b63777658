#!/usr/bin/env bash
# Benchmark: inbound WhatsApp media (download job -> stored -> webhook) against the
# simulated network.
#
# Builds agentlocator (release, --features sim) and wasim (release), then
# runs bench/media/bench.py: image vs text latency through N paired tenants, and the
# daemon's RSS while 50 large downloads run at once. See README.md.
#
# Usage: bench/media/run.sh [-- bench.py options]
#   bench/media/run.sh
#   bench/media/run.sh -- --rate 10 --messages 600 --burst-sizes-mib 16
# Environment: CARGO_TARGET_DIR (default target), SKIP_BUILD=1 (use the built
# binaries), KEEP=1 (keep the scratch directory with the logs and the stored media;
# it is always kept when the run fails), BENCH_JSON=path (all figures as JSON).
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ $# -gt 0 ]; then
    [ "$1" = "--" ] || { echo "usage: $0 [-- bench.py options]  (got \`$1\`)" >&2; exit 2; }
    shift
fi

# shellcheck source=../lib/driver.sh
source bench/lib/driver.sh
build_sim_release
run_sim_driver media-bench bench/media/bench.py "$@"
