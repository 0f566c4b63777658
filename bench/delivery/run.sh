#!/usr/bin/env bash
# Delivery benchmark: latency (Twilio webhook ack -> tenant backend) at steady
# rates over 100 tenants, then delivered events/s for a backlog with a fast
# receiver. Release build; prints the figures. Knobs (environment):
#   BENCH_RATES=200,1000  BENCH_SECONDS=10  BENCH_BACKLOG=20000  BENCH_CONCURRENCY=32
#   BENCH_TEST_EXE=path   run this integration test executable (release, built
#                         before) instead of building one: no cargo at all, so a
#                         commit elsewhere cannot trigger a rebuild (build.rs
#                         re-stamps the version whenever any branch moves)
#
# Usage: bench/delivery/run.sh [--store sqlite|postgres|both]
#   sqlite (the default)  the embedded store
#   postgres              PostgreSQL: a durable throwaway server started here, or the
#                         one in BENCH_DATABASE_URL (see bench/store/pg.sh); the test
#                         harness gives the daemon a database of its own there
#   both                  SQLite then PostgreSQL, same build, same run; then both
#                         figures side by side and the ratio PostgreSQL/SQLite
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=../store/pg.sh
source bench/store/pg.sh

STORE=sqlite
case "${1:-}" in
    "") ;;
    --store) STORE=${2:-}; shift 2 ;;
    --store=*) STORE=${1#--store=}; shift ;;
    *) echo "usage: $0 [--store sqlite|postgres|both]" >&2; exit 2 ;;
esac
case "$STORE" in sqlite|postgres|both) ;; *) echo "--store: sqlite, postgres or both (got \`$STORE\`)" >&2; exit 2 ;; esac

OUT=$(mktemp -d)
cleanup() {
    bench_pg_stop
    rm -rf "$OUT"
}
trap cleanup EXIT

# The test executable, built once below and run directly for each store: both
# runs bench the very same build (no cargo freshness check in between, which
# rebuilds when HEAD or any branch moves: build.rs stamps the commit).
TEST_EXE=
bench() {
    "$TEST_EXE" delivery_bench:: --ignored --nocapture --test-threads 1
}

# One store's run; its output also goes to $OUT/<store>.txt.
run_on() {
    echo "== delivery on $1 (load average $(cut -d' ' -f1-3 /proc/loadavg))" >&2
    if [ "$1" = postgres ]; then
        AGENTLOCATOR_TEST_STORE=postgres AGENTLOCATOR_TEST_DATABASE_URL=$BENCH_PG_URL bench | tee "$OUT/$1.txt"
    else
        # A subshell, not `env -u`: `bench` is a shell function, which env cannot run.
        (unset AGENTLOCATOR_TEST_STORE; bench) | tee "$OUT/$1.txt"
    fi
}

if [ "$STORE" != sqlite ]; then
    bench_pg_start
    echo "== $(bench_pg_describe)" >&2
fi
# Built before either run, so neither is timed against the compiler.
if [ -n "${BENCH_TEST_EXE:-}" ]; then
    TEST_EXE=$BENCH_TEST_EXE
else
    echo "== building (release)" >&2
    TEST_EXE=$(cargo test --release --test integration --no-run --message-format json --quiet |
        python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "integration":
        print(m["executable"])')
fi
[ -x "$TEST_EXE" ] || { echo "FAIL: no integration test executable from cargo" >&2; exit 1; }
case "$STORE" in
    sqlite|postgres) run_on "$STORE"; exit 0 ;;
esac
run_on sqlite
run_on postgres

# "  delivered N events in S s from the first to the last: R events/s (C events/s counting from the commit; ...)"
backlog() { awk '/^  delivered/ { for (i = 2; i <= NF; i++) if ($i == "events/s") { print $(i-1); exit } }' "$1"; }
# "  webhook ack -> receiver: p50 A ms  p90 B ms  p99 C ms  max D ms", after "steady R/s ...": R and C per rate.
latency() { awk '/^steady/ { rate = $2 } /webhook ack -> receiver/ { for (i = 1; i < NF; i++) if ($i == "p99") print rate, $(i+1) }' "$1"; }
S=$(backlog "$OUT/sqlite.txt"); P=$(backlog "$OUT/postgres.txt")
echo
echo "delivery      backlog events/s   ($(nproc) cores, load average at the end $(cut -d' ' -f1-3 /proc/loadavg))"
printf 'sqlite        %10s\n' "$S"
printf 'postgres      %10s\n' "$P"
python3 -c "import sys; s, p = float(sys.argv[1]), float(sys.argv[2]); print(f'ratio         postgres/sqlite {p/s:.2f}')" "$S" "$P"
echo "ack -> receiver p99 ms by rate:"
paste <(latency "$OUT/sqlite.txt" | sed 's/^/sqlite /') <(latency "$OUT/postgres.txt" | sed 's/^/postgres /')
