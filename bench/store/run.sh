#!/usr/bin/env bash
# Benchmark: signed Twilio webhooks on the embedded SQLite store and on
# PostgreSQL, same binary, same machine, same run (bench/twilio.sh for each:
# CONNS keep-alive connections, every webhook answered 200 checked in the
# store afterwards). Prints both and the ratio PostgreSQL/SQLite.
#
# PostgreSQL: a throwaway server started here with PostgreSQL's durable
# defaults (fsync on, synchronous_commit on: an acknowledged webhook is on
# disk, as SQLite's FULL sync guarantees), unless BENCH_DATABASE_URL names one
# (see bench/store/pg.sh).
#
# Usage: bench/store/run.sh   (env as bench/twilio.sh: CONNS=64 BENCH_SECONDS=10 ...)
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=pg.sh
source bench/store/pg.sh

OUT=$(mktemp -d)
cleanup() {
    bench_pg_stop
    rm -rf "$OUT"
}
trap cleanup EXIT

bench_pg_start
echo "== $(bench_pg_describe)" >&2

echo "== SQLite (load average $(cut -d' ' -f1-3 /proc/loadavg))" >&2
env -u BENCH_DATABASE_URL bench/twilio.sh | tee "$OUT/sqlite.txt"
# The binaries are built now: the second run must bench the same ones.
echo "== PostgreSQL (load average $(cut -d' ' -f1-3 /proc/loadavg))" >&2
BENCH_DATABASE_URL=$BENCH_PG_URL bench/twilio.sh | tee "$OUT/postgres.txt"

# From "webhook  64 conns 10 s: N ok, ..., R req/s, p50 A ms, p99 B ms, ...":
# the word before `req/s`, the one after `p99`.
before() { awk -v w="$2" '/^webhook/ { for (i = 2; i <= NF; i++) if ($i ~ "^" w) { v = $(i-1); gsub(",", "", v); print v; exit } }' "$1"; }
after() { awk -v w="$2" '/^webhook/ { for (i = 1; i < NF; i++) if ($i == w) { v = $(i+1); gsub(",", "", v); print v; exit } }' "$1"; }
S_RPS=$(before "$OUT/sqlite.txt" 'req/s'); P_RPS=$(before "$OUT/postgres.txt" 'req/s')
S_P99=$(after "$OUT/sqlite.txt" p99); P_P99=$(after "$OUT/postgres.txt" p99)
echo
echo "store       webhooks/s   p99 ms   ($(nproc) cores, load average at the end $(cut -d' ' -f1-3 /proc/loadavg))"
printf 'sqlite      %10s   %6s\n' "$S_RPS" "$S_P99"
printf 'postgres    %10s   %6s\n' "$P_RPS" "$P_P99"
python3 -c "import sys; s, p = float(sys.argv[1]), float(sys.argv[2]); print(f'ratio       postgres/sqlite throughput {p/s:.2f} (the aim: at least 0.33)')" "$S_RPS" "$P_RPS"
