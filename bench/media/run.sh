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

TARGET=${CARGO_TARGET_DIR:-target}
case "$TARGET" in /*) ;; *) TARGET=$PWD/$TARGET ;; esac
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    echo "== building (release): agentlocator --features sim, wasim" >&2
    CARGO_TARGET_DIR=$TARGET cargo build --release --quiet --features sim -p agentlocator
    CARGO_TARGET_DIR=$TARGET cargo build --release --quiet -p wasim
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/media-bench.XXXXXX")
PIDS=$WORK/pids
DRIVER=
STATUS=1
cleanup() {
    trap - EXIT INT TERM
    if [ -n "$DRIVER" ] && kill -0 "$DRIVER" 2>/dev/null; then
        kill -TERM "$DRIVER" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$DRIVER" 2>/dev/null || break; sleep 0.2; done
        kill -KILL "$DRIVER" 2>/dev/null || true
    fi
    # Whatever the driver could not stop (listed by pid, nothing else is touched).
    if [ -f "$PIDS" ]; then
        while read -r pid; do
            [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null || true
        done < "$PIDS"
        sleep 1
        while read -r pid; do
            [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null || true
        done < "$PIDS"
    fi
    if [ "$STATUS" -eq 0 ] && [ "${KEEP:-0}" != 1 ]; then
        rm -rf "$WORK"
    else
        echo "== logs kept in $WORK" >&2
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Private copies: a rebuild in the tree during the run must not swap binaries.
mkdir -p "$WORK/bin"
cp "$TARGET/release/agentlocator" "$TARGET/release/wasim" "$WORK/bin/"
if ! "$WORK/bin/agentlocator" --version >/dev/null 2>&1; then
    echo "FAIL: $TARGET/release/agentlocator does not run" >&2; exit 1
fi

python3 bench/media/bench.py \
    --agentlocator "$WORK/bin/agentlocator" --wasim "$WORK/bin/wasim" \
    --work "$WORK" --pid-file "$PIDS" \
    ${BENCH_JSON:+--json-out "$BENCH_JSON"} "$@" &
DRIVER=$!
set +e
wait "$DRIVER"
STATUS=$?
set -e
DRIVER=
exit "$STATUS"
