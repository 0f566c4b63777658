#!/usr/bin/env bash
# Where a tenant's memory goes, by allocation site. Runs bench.py at one small
# N (a profiler slows every allocation) on a debug build (for its symbols) and
# groups each daemon's live heap by what allocated it (heap_sites.py): after
# pairing against the idle daemon, and after a restart and the latency rounds
# against the idle daemon after a restart. See README.md. Two profilers:
#   PROFILER=heaptrack (default): every malloc, SQLite's included. Each `serve`
#     runs under heaptrack's preload library and is stopped with SIGKILL, so
#     its trace ends with what was live then.
#   PROFILER=dhat: Rust allocations only, through the `heap-profile` feature
#     (dhat's profiler; `serve` writes the profile when it is told to stop).
#
# Usage: bench/whatsapp/profile.sh [--store sqlite|postgres] [N] [-- bench.py options]
#   bench/whatsapp/profile.sh 30
# Environment: PROFILER, SKIP_BUILD=1, KEEP=1 (keep the profiles: dhat's open in
# its viewer, dh_view.html; heaptrack's in heaptrack_print or heaptrack_gui).
set -euo pipefail
cd "$(dirname "$0")/../.."

STORE=sqlite
N=30
PROFILER=${PROFILER:-heaptrack}
while [ $# -gt 0 ]; do
    case "$1" in
        --) shift; break ;;
        --store) STORE=${2:-}; shift 2 ;;
        ''|*[!0-9]*) echo "usage: $0 [--store sqlite|postgres] [N] [-- bench.py options]  (got \`$1\`)" >&2; exit 2 ;;
        *) N=$1; shift ;;
    esac
done
case "$PROFILER" in
    heaptrack) FEATURES=sim; KILL=(--kill-daemons)
        command -v heaptrack_print >/dev/null || { echo "PROFILER=heaptrack: install heaptrack" >&2; exit 2; } ;;
    dhat) FEATURES=sim,heap-profile; KILL=() ;;
    *) echo "PROFILER: heaptrack or dhat (got \`$PROFILER\`)" >&2; exit 2 ;;
esac

# shellcheck source=../lib/driver.sh
source bench/lib/driver.sh
# shellcheck source=../store/pg.sh
source bench/store/pg.sh
DEBUG_TARGET=${CARGO_TARGET_DIR:-target}
case "$DEBUG_TARGET" in /*) ;; *) DEBUG_TARGET=$PWD/$DEBUG_TARGET ;; esac
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    echo "== building (debug): agentlocator --features $FEATURES, wasim" >&2
    CARGO_TARGET_DIR=$DEBUG_TARGET cargo build --quiet --features "$FEATURES" -p agentlocator
    CARGO_TARGET_DIR=$DEBUG_TARGET cargo build --quiet -p wasim
fi
# run_sim_driver takes its binaries from $TARGET/release: the debug ones, and
# for heaptrack a wrapper in agentlocator's place that runs only `serve` under
# heaptrack (one raw trace per daemon, named by its data directory and start time).
TARGET=$(mktemp -d "${TMPDIR:-/tmp}/wa-profile-bin.XXXXXX")
mkdir -p "$TARGET/release" "$TARGET/traces"
cp "$DEBUG_TARGET/debug/wasim" "$TARGET/release/"
if [ "$PROFILER" = heaptrack ]; then
    cp "$DEBUG_TARGET/debug/agentlocator" "$TARGET/agentlocator.real"
    preload=$(dirname "$(readlink -f "$(command -v heaptrack_print)")")/../lib/heaptrack/libheaptrack_preload.so
    cat > "$TARGET/release/agentlocator" <<WRAP
#!/bin/sh
last=; dir=x
for a in "\$@"; do [ "\$last" = --data-dir ] && dir=\$(basename "\$a"); last=\$a; done
if [ "\$last" = serve ]; then
    export LD_PRELOAD=$preload DUMP_HEAPTRACK_OUTPUT=$TARGET/traces/\$dir-\$(date +%s%N).raw
fi
exec "$TARGET/agentlocator.real" "\$@"
WRAP
    chmod +x "$TARGET/release/agentlocator"
else
    cp "$DEBUG_TARGET/debug/agentlocator" "$TARGET/release/"
fi

STORE_ARGS=()
case "$STORE" in
    sqlite) unset BENCH_DATABASE_URL ;;
    postgres) bench_pg_start; STORE_ARGS=(--database-url "$BENCH_PG_URL") ;;
    *) echo "--store: sqlite or postgres (got \`$STORE\`)" >&2; exit 2 ;;
esac

# heaptrack: the live heap at the end of the K-th trace of data directory DIR
# (1: the first daemon on it, 2: the one after a restart), as stacks.
heaptrack_stacks() {
    local raw interp
    raw=$(find "$TARGET/traces" -name "$1-*.raw" | sort | sed -n "$2p")
    [ -n "$raw" ] || return 1
    interp=$(dirname "$(readlink -f "$(command -v heaptrack_print)")")/../lib/heaptrack/libexec/heaptrack_interpret
    "$interp" < "$raw" | gzip > "${raw%.raw}.gz"
    # Also the live heap over time (massif's format: snapshots of time and
    # mem_heap_B), to tell a growing heap from a growing RSS.
    heaptrack_print -f "${raw%.raw}.gz" -p 0 -a 0 -T 0 --flamegraph-cost-type leaked \
        -F "$WORK/$1-$2.stacks" -M "$WORK/$1-$2.massif" --massif-detailed-freq 0 > /dev/null
    echo "$WORK/$1-$2.stacks"
}

# Run by run_sim_driver's trap once the daemons are stopped (their profiles written).
report() {
    local w=bench/whatsapp/heap_sites.py pair idle boot idle2
    if [ "$PROFILER" = heaptrack ]; then
        pair=$(heaptrack_stacks "data-n$N" 1) || true
        idle=$(heaptrack_stacks data-n0 1) || true
        boot=$(heaptrack_stacks "data-n$N" 2) || true
        idle2=$(heaptrack_stacks data-n0 2) || true
    else
        pair=$WORK/dhat-n$N-pair.json idle=$WORK/dhat-n0.json
        boot=$WORK/dhat-n$N-boot.json idle2=$WORK/dhat-n0-restart.json
    fi
    if [ -f "${pair:-}" ] && [ -f "${idle:-}" ]; then
        echo "== live heap after pairing $N tenants ($PROFILER; per tenant: against the idle daemon)"
        python3 "$w" "$pair" --baseline "$idle" --tenants "$N" || true
    fi
    if [ -f "${boot:-}" ] && [ -f "${idle2:-}" ]; then
        echo "== live heap after a restart and the latency rounds, $N tenants ($PROFILER)"
        python3 "$w" "$boot" --baseline "$idle2" --tenants "$N" || true
    fi
    if [ -f "${boot%.stacks}.massif" ]; then
        echo "== live heap of the restarted daemon over its life (heaptrack; s, MiB): a flat line under a"
        echo "   growing RSS (the bench's steady traffic) is memory the allocator keeps, not memory in use"
        awk -F= '/^time=/ {t = $2} /^mem_heap_B=/ {n++; ts[n] = t; hs[n] = $2}
            END {if (n == 0) {print "   (no snapshot in the trace)"; exit}
                 for (i = 1; i <= 12; i++) {k = int(1 + (i - 1) * (n - 1) / 11); printf "   %8.0f s %7.2f MiB\n", ts[k], hs[k] / 1048576}}' \
            "${boot%.stacks}.massif"
    fi
    rm -rf "$TARGET"
    if [ "$STORE" = postgres ]; then bench_pg_stop; fi
}
SIM_DRIVER_ON_EXIT=report
run_sim_driver wa-profile bench/whatsapp/bench.py --ns "$N" --boot-repeats 1 --latency-repeats 1 \
    --pair-timeout 600 "${KILL[@]}" "${STORE_ARGS[@]}" "$@"
