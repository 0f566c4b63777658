#!/usr/bin/env bash
# Benchmark: tenant WhatsApp workers against the simulated network (wasim).
#
# Builds agentlocator (release, --features sim) and wasim (release), then runs
# bench/whatsapp/bench.py, which for each N pairs N tenants on a fresh daemon and
# prints its memory (VmRSS, PSS, Private) against an idle daemon, the time to
# reconnect all N at boot, and inbound message -> webhook latency. See README.md.
#
# Usage: bench/whatsapp/run.sh [--store sqlite|postgres] [N...] [-- bench.py options]
#   bench/whatsapp/run.sh                 N = 10 100 1000
#   bench/whatsapp/run.sh 10 100
#   bench/whatsapp/run.sh 1000 -- --prekeys 100 --latency-repeats 5
#   bench/whatsapp/run.sh --store postgres 10 1000
# --store postgres: every daemon (the idle baseline and each N) runs on a fresh,
# empty PostgreSQL database of its own, on a durable throwaway server started
# here or the server in BENCH_DATABASE_URL (see bench/store/pg.sh); the bench
# also reads that server's memory when it started it.
# Environment: CARGO_TARGET_DIR (default target), SKIP_BUILD=1 (use the built
# binaries), KEEP=1 (keep the scratch directory with the logs; it is always kept
# when the run fails), BENCH_JSON=path (all figures as JSON).
set -euo pipefail
cd "$(dirname "$0")/../.."

STORE=sqlite
NS=()
while [ $# -gt 0 ]; do
    case "$1" in
        --) shift; break ;;
        --store) STORE=${2:-}; shift 2 ;;
        --store=*) STORE=${1#--store=}; shift ;;
        ''|*[!0-9]*) echo "usage: $0 [--store sqlite|postgres] [N...] [-- bench.py options]  (got \`$1\`)" >&2; exit 2 ;;
        *) NS+=("$1"); shift ;;
    esac
done
[ ${#NS[@]} -gt 0 ] || NS=(10 100 1000)
NS_CSV=$(IFS=,; echo "${NS[*]}")

# shellcheck source=../lib/driver.sh
source bench/lib/driver.sh
# shellcheck source=../store/pg.sh
source bench/store/pg.sh
build_sim_release
STORE_ARGS=()
case "$STORE" in
    sqlite) unset BENCH_DATABASE_URL ;;
    postgres)
        bench_pg_start
        echo "== $(bench_pg_describe)" >&2
        STORE_ARGS=(--database-url "$BENCH_PG_URL")
        if [ -n "$BENCH_PG_DIR" ]; then
            STORE_ARGS+=(--pg-pid-file "$BENCH_PG_DIR/data/postmaster.pid")
            SIM_DRIVER_ON_EXIT=stop_pg
        fi ;;
    *) echo "--store: sqlite or postgres (got \`$STORE\`)" >&2; exit 2 ;;
esac
# Run by run_sim_driver's trap: the server's log joins the daemons' in $WORK.
stop_pg() {
    cp "$BENCH_PG_DIR/server.log" "$WORK/postgres-server.log" 2>/dev/null || true
    bench_pg_stop
}
run_sim_driver wa-bench bench/whatsapp/bench.py --ns "$NS_CSV" "${STORE_ARGS[@]}" "$@"
