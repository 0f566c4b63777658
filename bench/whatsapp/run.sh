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

TARGET=${CARGO_TARGET_DIR:-target}
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    echo "== building (release): agentlocator --features sim, wasim" >&2
    CARGO_TARGET_DIR=$TARGET cargo build --release --quiet --features sim -p agentlocator
    CARGO_TARGET_DIR=$TARGET cargo build --release --quiet -p wasim
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/wa-bench.XXXXXX")
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

python3 bench/whatsapp/bench.py \
    --agentlocator "$WORK/bin/agentlocator" --wasim "$WORK/bin/wasim" \
    --work "$WORK" --pid-file "$PIDS" --ns "$NS_CSV" \
    ${BENCH_JSON:+--json-out "$BENCH_JSON"} "$@" &
DRIVER=$!
set +e
wait "$DRIVER"
STATUS=$?
set -e
DRIVER=
exit "$STATUS"
