#!/usr/bin/env bash
# Benchmark: durable Twilio webhooks vs GET /healthz on the same daemon.
#
# Builds agentlocator and the load generator (bench/twilio/) in release mode,
# starts `serve` on a fresh data directory, registers one tenant, then drives
#   1. GET /healthz                (the baseline: no database, no signature)
#   2. signed POST /webhook/voice  (verify, group-commit to SQLite, TwiML)
# from CONNS keep-alive connections for SECONDS each, and prints requests/s,
# p50/p99/p99.9 and the ratio. Afterwards it stops the daemon and checks that
# every webhook answered 200 is an event row in the database.
#
# Usage: bench/twilio.sh            (env: CONNS=64 BENCH_SECONDS=10 WARMUP=2 THREADS=1
#                                    RUST_LOG=info CARGO_TARGET_DIR=target
#                                    SKIP_BUILD=1: use the built load generator (and
#                                    agentlocator) in CARGO_TARGET_DIR as they are,
#                                    AGENTLOCATOR_BIN=path: bench that binary instead,
#                                    e.g. an older build for a before/after pair;
#                                    BENCH_DATABASE_URL=postgres://.../postgres: run on
#                                    PostgreSQL, in a fresh database created on that
#                                    server and dropped afterwards)
set -euo pipefail
cd "$(dirname "$0")/.."

CONNS=${CONNS:-64}
SECONDS_PER_PHASE=${BENCH_SECONDS:-10}
WARMUP=${WARMUP:-2}
THREADS=${THREADS:-1}
TARGET=${CARGO_TARGET_DIR:-target}
LOG_LEVEL=${RUST_LOG:-info}
TOKEN=bench-auth-token-0123456789
NUMBER=+15550001111

if [ "${SKIP_BUILD:-0}" != 1 ]; then
    echo "== building (release)" >&2
    if [ -z "${AGENTLOCATOR_BIN:-}" ]; then
        CARGO_TARGET_DIR=$TARGET cargo build --release --quiet --bin agentlocator
    fi
    CARGO_TARGET_DIR=$TARGET cargo build --release --quiet --manifest-path bench/twilio/Cargo.toml
fi
BIN=${AGENTLOCATOR_BIN:-$TARGET/release/agentlocator}
LOADGEN=$TARGET/release/twilio-bench

WORK=$(mktemp -d)
DAEMON_PID=
BENCH_DB=
cleanup() {
    if [ -n "$DAEMON_PID" ] && kill -0 "$DAEMON_PID" 2>/dev/null; then kill "$DAEMON_PID"; wait "$DAEMON_PID" || true; fi
    if [ -n "$BENCH_DB" ]; then psql -q "$BENCH_DATABASE_URL" -c "DROP DATABASE IF EXISTS $BENCH_DB WITH (FORCE)" >/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

# The store: SQLite in the data directory, or a fresh PostgreSQL database.
unset DATABASE_URL
if [ -n "${BENCH_DATABASE_URL:-}" ]; then
    BENCH_DB="bench_$(date +%s)_$$"
    psql -q "$BENCH_DATABASE_URL" -c "CREATE DATABASE $BENCH_DB" >/dev/null
    export DATABASE_URL="${BENCH_DATABASE_URL%/*}/$BENCH_DB"
fi
# Runs SQL on the daemon's store; stdin is the script.
store_sql() {
    if [ -n "$BENCH_DB" ]; then psql -qAt -F ' ' "$DATABASE_URL"; else sqlite3 "$WORK/data/agentlocator.db"; fi
}

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export AGENTLOCATOR_DATA_DIR=$WORK/data AGENTLOCATOR_CONFIG=/dev/null
unset PUBLIC_BASE_URL FLASK_BASE_URL
cat > "$WORK/config.toml" <<TOML
[http]
listen = "127.0.0.1:$PORT"
TOML
export AGENTLOCATOR_CONFIG=$WORK/config.toml

"$BIN" -q tenant add bench --twilio-number "$NUMBER" >/dev/null
echo "== serve on 127.0.0.1:$PORT (RUST_LOG=$LOG_LEVEL, log in $WORK/serve.log)" >&2
TWILIO_AUTH_TOKEN=$TOKEN RUST_LOG=$LOG_LEVEL "$BIN" --log-format json serve 2>"$WORK/serve.log" &
DAEMON_PID=$!
for _ in $(seq 100); do
    curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
    sleep 0.1
done

echo "== $CONNS connections, ${WARMUP}s warm-up + ${SECONDS_PER_PHASE}s per phase, $(nproc) cores" >&2
"$LOADGEN" --base "http://127.0.0.1:$PORT" --token "$TOKEN" --to "$NUMBER" --conns "$CONNS" \
    --seconds "$SECONDS_PER_PHASE" --warmup "$WARMUP" --threads "$THREADS" --acked-out "$WORK/acked.txt"

kill "$DAEMON_PID"; wait "$DAEMON_PID" || true; DAEMON_PID=

ACKED=$(wc -l < "$WORK/acked.txt")
if [ -n "$BENCH_DB" ]; then
    IMPORT="CREATE TEMP TABLE acked (sid TEXT PRIMARY KEY);
\\copy acked FROM '$WORK/acked.txt' WITH (FORMAT csv)"
else
    IMPORT="CREATE TEMP TABLE acked (sid TEXT PRIMARY KEY);
.mode csv
.import $WORK/acked.txt acked
.mode list
.separator \" \""
fi
MISSING=$(store_sql <<SQL
$IMPORT
SELECT (SELECT COUNT(*) FROM acked), COUNT(*) FROM acked WHERE NOT EXISTS (
    SELECT 1 FROM events WHERE tenant_id = 'bench'
      AND dedupe_key >= 'voice:' || acked.sid || ':' AND dedupe_key < 'voice:' || acked.sid || ';');
SQL
)
STORED=$(echo "SELECT COUNT(*) FROM events WHERE type = 'twilio.voice';" | store_sql)
read -r IMPORTED MISSING <<<"$MISSING"
echo "durable  $ACKED acknowledged, $STORED stored, $MISSING acknowledged but missing"
[ "$IMPORTED" -eq "$ACKED" ] || { echo "FAIL: only $IMPORTED of $ACKED acknowledged ids could be checked" >&2; exit 1; }
[ "$MISSING" -eq 0 ] || { echo "FAIL: acknowledged webhooks are missing from the database" >&2; exit 1; }
