#!/usr/bin/env bash
# Cluster benchmark: several `serve` nodes on one PostgreSQL against the simulated
# WhatsApp network (wasim), all on this machine (so the figures are indicative).
#
# Builds agentlocator (release, --features sim), wasim and the Twilio load generator
# (bench/twilio/), starts a durable throwaway PostgreSQL server (or uses the one in
# BENCH_DATABASE_URL, see bench/store/pg.sh), then runs bench/cluster/bench.py:
#   1. N tenants paired over K nodes; the node with the most tenants SIGKILLed:
#      time until all its tenants are connected on a survivor; the node started
#      again: time until the tenants are spread evenly and connected (per TTL,
#      BENCH_KILLS cycles, medians printed);
#   2. signed Twilio webhooks/s from CONNS connections to one node, then spread
#      round-robin over the K nodes, same run; every acknowledged webhook checked
#      in the database.
# No assertion on timing: the figures are printed (see README.md).
#
# Usage: bench/cluster/run.sh [-- bench.py options]
# Environment (defaults as the issue asks): BENCH_TENANTS=300 BENCH_NODES=3
#   BENCH_TTL=15 (lease TTLs in seconds, comma-separated, e.g. 15,5: all nodes are
#   restarted with the next one) BENCH_KILLS=3 (kill/restart cycles per TTL)
#   CONNS=64 BENCH_SECONDS=10 (per webhook run) WARMUP=2 BENCH_ROUNDS=2 (pairs of
#   1-node/K-node webhook runs)
#   CARGO_TARGET_DIR (default target), SKIP_BUILD=1, KEEP=1, BENCH_JSON=path.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ $# -gt 0 ]; then
    [ "$1" = "--" ] || { echo "usage: $0 [-- bench.py options]  (got \`$1\`)" >&2; exit 2; }
    shift
fi

# shellcheck source=../lib/driver.sh
source bench/lib/driver.sh
# shellcheck source=../store/pg.sh
source bench/store/pg.sh
build_sim_release
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    CARGO_TARGET_DIR=$TARGET cargo build --release --quiet --manifest-path bench/twilio/Cargo.toml
fi
LOADGEN=$TARGET/release/twilio-bench
[ -x "$LOADGEN" ] || { echo "FAIL: no load generator at $LOADGEN" >&2; exit 1; }

bench_pg_start
echo "== $(bench_pg_describe)" >&2
# Run by run_sim_driver's trap: the server's log joins the nodes' in $WORK.
stop_pg() {
    cp "$BENCH_PG_DIR/server.log" "$WORK/postgres-server.log" 2>/dev/null || true
    bench_pg_stop
}
[ -z "$BENCH_PG_DIR" ] || SIM_DRIVER_ON_EXIT=stop_pg

run_sim_driver cluster-bench bench/cluster/bench.py --database-url "$BENCH_PG_URL" --loadgen "$LOADGEN" \
    --tenants "${BENCH_TENANTS:-300}" --nodes "${BENCH_NODES:-3}" --ttls "${BENCH_TTL:-15}" \
    --kills "${BENCH_KILLS:-3}" --twilio-conns "${CONNS:-64}" --twilio-seconds "${BENCH_SECONDS:-10}" \
    --twilio-warmup "${WARMUP:-2}" --twilio-rounds "${BENCH_ROUNDS:-2}" "$@"
