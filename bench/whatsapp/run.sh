#!/usr/bin/env bash
# Benchmark: tenant WhatsApp workers against the simulated network (wasim).
#
# Builds agentlocator (release, --features sim) and wasim (release), then runs
# bench/whatsapp/bench.py, which for each N pairs N tenants on a fresh daemon and
# prints its memory (VmRSS, PSS, Private) against an idle daemon, the time to
# reconnect all N at boot, and inbound message -> webhook latency. See README.md.
#
# Usage: bench/whatsapp/run.sh [N...] [-- bench.py options]
#   bench/whatsapp/run.sh                 N = 10 100 1000
#   bench/whatsapp/run.sh 10 100
#   bench/whatsapp/run.sh 1000 -- --prekeys 100 --latency-repeats 5
# Environment: CARGO_TARGET_DIR (default target), SKIP_BUILD=1 (use the built
# binaries), KEEP=1 (keep the scratch directory with the logs; it is always kept
# when the run fails), BENCH_JSON=path (all figures as JSON).
set -euo pipefail
cd "$(dirname "$0")/../.."

NS=()
while [ $# -gt 0 ]; do
    case "$1" in
        --) shift; break ;;
        ''|*[!0-9]*) echo "usage: $0 [N...] [-- bench.py options]  (got \`$1\`)" >&2; exit 2 ;;
        *) NS+=("$1"); shift ;;
    esac
done
[ ${#NS[@]} -gt 0 ] || NS=(10 100 1000)
NS_CSV=$(IFS=,; echo "${NS[*]}")

# shellcheck source=../lib/driver.sh
source bench/lib/driver.sh
build_sim_release
run_sim_driver wa-bench bench/whatsapp/bench.py --ns "$NS_CSV" "$@"
