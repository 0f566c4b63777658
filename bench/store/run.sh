#!/usr/bin/env bash
# Benchmark: signed Twilio webhooks on the embedded SQLite store and on
# PostgreSQL, same binary, same machine, same run (bench/twilio.sh for each:
# CONNS keep-alive connections, every webhook answered 200 checked in the
# store afterwards). Prints both and the ratio PostgreSQL/SQLite.
#
# PostgreSQL: a throwaway server started here with PostgreSQL's durable
# defaults (fsync on, synchronous_commit on: an acknowledged webhook is on
# disk, as SQLite's FULL sync guarantees), unless BENCH_DATABASE_URL names one.
#
# Usage: bench/store/run.sh   (env as bench/twilio.sh: CONNS=64 BENCH_SECONDS=10 ...)
set -euo pipefail
cd "$(dirname "$0")/../.."

OUT=$(mktemp -d)
PG_DIR=
cleanup() {
    if [ -n "$PG_DIR" ]; then scripts/pg-throwaway --stop "$PG_DIR" || true; rm -rf "$PG_DIR"; fi
    rm -rf "$OUT"
}
trap cleanup EXIT

URL=${BENCH_DATABASE_URL:-}
if [ -z "$URL" ]; then
    PG_DIR=$(mktemp -d)
    URL=$(PG_THROWAWAY_DURABLE=1 scripts/pg-throwaway "$PG_DIR")
fi

echo "== SQLite" >&2
env -u BENCH_DATABASE_URL bench/twilio.sh | tee "$OUT/sqlite.txt"
echo "== PostgreSQL" >&2
BENCH_DATABASE_URL=$URL bench/twilio.sh | tee "$OUT/postgres.txt"

# "webhook  64 conns 10 s: N ok, E errors, R req/s, p50 A ms, p99 B ms, ..."
figure() { awk -v f="$2" '/^webhook/ { for (i = 1; i <= NF; i++) if ($(i+1) ~ f) { gsub(",", "", $i); print $i; exit } }' "$1"; }
S_RPS=$(figure "$OUT/sqlite.txt" 'req/s'); P_RPS=$(figure "$OUT/postgres.txt" 'req/s')
S_P99=$(awk '/^webhook/ { for (i = 1; i <= NF; i++) if ($i == "p99") { print $(i+1); exit } }' "$OUT/sqlite.txt")
P_P99=$(awk '/^webhook/ { for (i = 1; i <= NF; i++) if ($i == "p99") { print $(i+1); exit } }' "$OUT/postgres.txt")
echo
echo "store       webhooks/s   p99 ms"
printf 'sqlite      %10s   %6s\n' "$S_RPS" "$S_P99"
printf 'postgres    %10s   %6s\n' "$P_RPS" "$P_P99"
python3 -c "import sys; s, p = float(sys.argv[1]), float(sys.argv[2]); print(f'ratio       postgres/sqlite throughput {p/s:.2f} (the aim: at least 0.33)')" "$S_RPS" "$P_RPS"
